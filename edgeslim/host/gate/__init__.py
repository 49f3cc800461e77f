"""DS-Net++ gating, one concept in one place: the gate modules (``modules``), cutting a network at the gate
(``split``), stage-II routing and head training (``routing``, ``training``) and the gated device programs and
their weight recipes (``programs``)."""

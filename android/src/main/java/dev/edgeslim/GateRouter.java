package dev.edgeslim;

import java.util.List;

/** The width routing of a DS-Net++ (gated) bundle, as {@code edgeslim.device.runtime.DynamicModel} does it. Every
 * input runs the gate entry first (outputs: the features and the head scores); the router says which width's
 * remainder runs on the features. Gate routing: the head's choice among the gate's widths up to a cap (the width
 * controller's rung). Cascade routing: the narrowest width's remainder, then the cap's when the narrowest is unsure
 * (its top softmax probability below the threshold calibrated for the share of inputs to escalate).
 * <pre>{@code
 * GateRouter router = GateRouter.of(bundle.manifest());
 * int width = router.pick(headScores, cap);           // gate routing: an index into router.widths()
 * router.setEscalate(0.2);                            // cascade routing: escalate about 20 % of inputs
 * boolean again = router.escalates(narrowestLogits, cap);  // run the cap's remainder on the same features too
 * }</pre> */
public final class GateRouter {
    private final Manifest.Gate gate;
    private int head;
    private double threshold;

    private GateRouter(Manifest.Gate gate) {
        this.gate = gate;
        this.head = gate.heads().indexOf(gate.defaultHead());
        this.threshold = gate.cascade() == null ? Double.NaN : thresholdFor(gate.cascade().defaultShare());
    }

    /** The router of a gated bundle's manifest, with its default head and cascade share. */
    public static GateRouter of(Manifest manifest) {
        if (manifest.gate == null) {
            throw new IllegalArgumentException("this bundle has no gate (it is not a --method dsnet run): run its "
                    + "widths directly");
        }
        return new GateRouter(manifest.gate);
    }

    /** The gate entry's name in the bundle's programs (the first program of every input). */
    public String entry() {
        return gate.entry();
    }

    /** The widths the gate routes among, narrowest first; {@link #pick} returns an index into them. */
    public List<String> widths() {
        return gate.widths();
    }

    /** The gate's width heads (one per complexity weight); the larger the weight, the narrower its picks. */
    public List<String> heads() {
        return gate.heads();
    }

    /** Decide with head {@code name} from now on. */
    public void setHead(String name) {
        int index = gate.heads().indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException("gate head '" + name + "': use one of " + gate.heads());
        }
        head = index;
    }

    /** Gate routing: the index of the width the current head scores highest among widths 0..{@code cap}.
     * {@code headScores}: the gate entry's second output, heads × widths, row-major. */
    public int pick(float[] headScores, int cap) {
        int n = gate.widths().size();
        if (headScores.length != gate.heads().size() * n) {
            throw new IllegalArgumentException("head scores of " + headScores.length + " values: the gate gives "
                    + gate.heads().size() + " heads × " + n + " widths");
        }
        checkCap(cap);
        int best = 0;
        for (int i = 1; i <= cap; i++) {
            if (headScores[head * n + i] > headScores[head * n + best]) {
                best = i;
            }
        }
        return best;
    }

    /** Cascade routing: escalate the share {@code share} (in [0, 1]) of inputs, at the threshold calibrated for it
     * at training (1 escalates every input). */
    public void setEscalate(double share) {
        if (gate.cascade() == null) {
            throw new IllegalArgumentException("this bundle has no cascade thresholds (its run was trained before "
                    + "edgeslim calibrated them); retrain with --method dsnet");
        }
        if (!(share >= 0 && share <= 1)) {
            throw new IllegalArgumentException("escalate " + share + ": give the share of inputs to escalate, in "
                    + "[0, 1]");
        }
        threshold = thresholdFor(share);
    }

    /** The top softmax probability below which the cascade escalates (NaN: the bundle has no cascade). */
    public double threshold() {
        return threshold;
    }

    /** Cascade routing: whether the narrowest width's {@code logits} are unsure enough to run the cap's remainder
     * (never when the cap is the narrowest width itself). */
    public boolean escalates(float[] logits, int cap) {
        checkCap(cap);
        if (Double.isNaN(threshold)) {
            throw new IllegalStateException("this bundle has no cascade thresholds; use pick (gate routing)");
        }
        return cap > 0 && topProbability(logits) < threshold;
    }

    /** The largest softmax probability of {@code logits}. */
    public static double topProbability(float[] logits) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return 1.0 / sum;
    }

    private void checkCap(int cap) {
        if (cap < 0 || cap >= gate.widths().size()) {
            throw new IllegalArgumentException("cap " + cap + ": give an index into the gate's widths "
                    + gate.widths());
        }
    }

    /** numpy.interp(share, [0, shares...], [0, thresholds...]); infinite at share 1 (escalate everything). */
    private double thresholdFor(double share) {
        if (share >= 1) {
            return Double.POSITIVE_INFINITY;
        }
        double[] xs = gate.cascade().shares();
        double[] ys = gate.cascade().thresholds();
        double x0 = 0;
        double y0 = 0;
        for (int i = 0; i < xs.length; i++) {
            if (share <= xs[i]) {
                return xs[i] == x0 ? ys[i] : y0 + (ys[i] - y0) * (share - x0) / (xs[i] - x0);
            }
            x0 = xs[i];
            y0 = ys[i];
        }
        return y0;
    }
}

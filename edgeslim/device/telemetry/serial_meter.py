"""USB/serial power meters through pyserial URLs (``/dev/ttyUSB0``, ``loop://``, ``socket://host:port``)."""

from __future__ import annotations

import struct

import serial

from edgeslim.device.telemetry.base import Reading

MAX_READ_BYTES = 4096  # per read: what a meter sends in a poll period, many times over


class _SerialProvider:
    def __init__(self, url: str, baudrate: int = 115200, timeout_s: float = 0.2):
        self.url, self.baudrate, self.timeout_s = url, baudrate, timeout_s
        self._port: serial.SerialBase | None = None

    def port(self) -> serial.SerialBase:
        if self._port is None:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout_s)
        return self._port

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None


class CsvPowerMeter(_SerialProvider):
    """An INA219/INA226 behind a microcontroller printing ``volts,milliamps,milliwatts`` lines (115200 baud).

    Reads only what has arrived (never blocks the control loop); the latest complete line wins, a partial line
    waits for the next read, and lines that do not parse are skipped."""

    name = "serial-csv-meter"

    def __init__(self, url: str, baudrate: int = 115200, timeout_s: float = 0.2):
        super().__init__(url, baudrate, timeout_s)
        self._pending = b""

    def read(self) -> Reading | None:
        try:
            port = self.port()
            arrived = b""
            while len(arrived) < MAX_READ_BYTES and port.in_waiting:  # some ports (socket://) report only 1
                chunk = port.read(port.in_waiting)
                if not chunk:  # a closed socket reports data waiting and reads nothing
                    raise serial.SerialException("closed")
                arrived += chunk
            self._pending += arrived
        except (serial.SerialException, OSError, ValueError):
            self.close()
            return None
        *lines, self._pending = self._pending.split(b"\n")
        self._pending = self._pending[-4096:]
        for line in reversed(lines):
            try:
                volts, milliamps, milliwatts = (float(p) for p in line.decode("ascii", "replace").split(","))
            except ValueError:
                continue
            if volts >= 0 and milliwatts >= 0:
                return Reading(power_w=milliwatts / 1000)
        return None


class UMMeter(_SerialProvider):
    """RuiDeng UM24C / UM25C / UM34C USB meters: send 0xF0, receive a 130-byte big-endian frame.

    Bytes 0-1 name the model (0x0963 UM24C, 0x09C9 UM25C, 0x0D4C UM34C), volts are a u16 at offset 2, amps a
    u16 at 4, watts a u32 at 6 in mW. The UM25C reports mV and 0.1 mA, the others 10 mV and mA. A frame with an
    unknown model or whose V·I disagrees with its W is garbage: unavailable.
    """

    name = "serial-um-meter"
    FRAME = 130
    MODELS = {0x0963: ("UM24C", 100.0, 1000.0), 0x09C9: ("UM25C", 1000.0, 10000.0),
              0x0D4C: ("UM34C", 100.0, 1000.0)}

    def __init__(self, url: str, baudrate: int = 9600, timeout_s: float = 0.3):
        super().__init__(url, baudrate, timeout_s)

    def read(self) -> Reading | None:
        try:
            port = self.port()
            port.reset_input_buffer()
            port.write(b"\xf0")
            frame = port.read(self.FRAME)
        except (serial.SerialException, OSError, ValueError):
            self.close()
            return None
        if len(frame) != self.FRAME:
            return None
        model_id, raw_volts, raw_amps, milliwatts = struct.unpack_from(">HHHI", frame, 0)
        if model_id not in self.MODELS:
            return None
        _, volt_scale, amp_scale = self.MODELS[model_id]
        watts = milliwatts / 1000
        if abs(raw_volts / volt_scale * raw_amps / amp_scale - watts) > 0.05 + 0.1 * watts:
            return None
        return Reading(power_w=watts)

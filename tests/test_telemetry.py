"""Telemetry providers against real layouts: sysfs trees in a temp dir, pyserial loop:// and a socket://
emulator on loopback, a vcgencmd executable, tegrastats lines, replayed traces."""

import socket
import stat
import struct
import threading

import pytest
import serial

from edgeslim.device.telemetry import (
    CpuFreq,
    CsvPowerMeter,
    JetsonRails,
    PowerSupply,
    Reading,
    Replay,
    Telemetry,
    ThermalZones,
    UMMeter,
    Vcgencmd,
    parse_tegrastats,
    parse_throttled,
)
from edgeslim.errors import EdgeslimError


def write(root, files: dict):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_thermal_zones_and_cooling_devices(tmp_path):
    write(tmp_path, {"thermal_zone0/type": "cpu-thermal\n", "thermal_zone0/temp": "55800\n",
                     "thermal_zone0/trip_point_0_temp": "80000\n", "thermal_zone0/trip_point_0_type": "passive\n",
                     "thermal_zone1/type": "gpu-thermal\n", "thermal_zone1/temp": "61250\n",
                     "cooling_device0/type": "cpufreq-cpu0\n", "cooling_device0/cur_state": "0\n",
                     "cooling_device0/max_state": "5\n"})
    assert ThermalZones(tmp_path).read() == Reading(temperature_c=61.25, throttled=False)
    (tmp_path / "cooling_device0/cur_state").write_text("2\n")
    assert ThermalZones(tmp_path).read().throttled is True
    (tmp_path / "thermal_zone1/temp").write_text("garbage")
    assert ThermalZones(tmp_path).read().temperature_c == 55.8
    assert ThermalZones(tmp_path / "missing").read() is None


def test_cpufreq_cap_means_throttled(tmp_path):
    write(tmp_path, {"cpu0/cpufreq/scaling_max_freq": "1800000", "cpu0/cpufreq/cpuinfo_max_freq": "1800000",
                     "cpu1/cpufreq/scaling_max_freq": "1800000", "cpu1/cpufreq/cpuinfo_max_freq": "1800000"})
    assert CpuFreq(tmp_path).read() == Reading(throttled=False)
    (tmp_path / "cpu1/cpufreq/scaling_max_freq").write_text("1200000")
    assert CpuFreq(tmp_path).read() == Reading(throttled=True)
    assert CpuFreq(tmp_path / "none").read() is None


def test_power_supply_battery(tmp_path):
    write(tmp_path, {"AC/online": "0", "BAT0/capacity": "42\n", "BAT0/status": "Discharging\n",
                     "BAT0/current_now": "-1500000\n", "BAT0/voltage_now": "3800000\n"})
    reading = PowerSupply(tmp_path).read()
    assert reading.battery_pct == 42 and reading.charging is False
    assert reading.power_w == pytest.approx(5.7)
    write(tmp_path, {"BAT0/power_now": "4200000", "BAT0/status": "Charging"})
    assert PowerSupply(tmp_path).read() == Reading(battery_pct=42, charging=True, power_w=4.2)
    (tmp_path / "BAT0/capacity").write_text("250")  # garbage: no battery reading
    assert PowerSupply(tmp_path).read() is None


def test_vcgencmd_output_and_a_real_executable(tmp_path):
    assert parse_throttled("throttled=0x50005\n") is True
    assert parse_throttled("throttled=0x50000") is False  # only "since boot" bits
    assert parse_throttled("VCHI initialization failed") is None
    tool = tmp_path / "vcgencmd"
    tool.write_text('#!/bin/sh\ncase "$1" in get_throttled) echo throttled=0x4;; '
                    "measure_temp) echo \"temp=81.7'C\";; esac\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    assert Vcgencmd(str(tool)).read() == Reading(temperature_c=81.7, throttled=True)
    assert Vcgencmd(str(tmp_path / "absent")).read() is None


def test_jetson_rails_and_tegrastats(tmp_path):
    write(tmp_path, {"hwmon3/in1_label": "VDD_IN", "hwmon3/in1_input": "5000", "hwmon3/curr1_input": "1200",
                     "hwmon3/in2_label": "VDD_CPU_GPU_CV", "hwmon3/in2_input": "5000", "hwmon3/curr2_input": "400"})
    rails = JetsonRails(tmp_path)
    assert rails.rails() == {"VDD_IN": 6.0, "VDD_CPU_GPU_CV": 2.0}
    assert rails.read() == Reading(power_w=8.0)
    line = ("RAM 2448/7764MB (lfb 1x4MB) SWAP 0/3882MB CPU [3%@1190,1%@1190,off,off] EMC_FREQ 0% "
            "cpu@47.5C soc2@45.4C soc0@46.1C tj@52.8C iwlwifi@-256C VDD_IN 5039mW/5039mW "
            "VDD_CPU_GPU_CV 522mW/522mW/510mW VDD_SOC 1433mW/1433mW")
    assert parse_tegrastats(line) == Reading(temperature_c=52.8, power_w=5.039)
    assert parse_tegrastats("not a tegrastats line") is None


def test_csv_power_meter_over_loop_url():
    meter = CsvPowerMeter("loop://")
    port = meter.port()
    port.write(b"5.02,410.0,2058.2\r\ngarbage\r\n5.01,500.0,2505.0\r\n")
    assert meter.read() == Reading(power_w=2.505)
    port.write(b"not,a,number\r\n")
    assert meter.read() is None
    port.write(b"5.00,300.0,15")  # half a line: nothing yet, the rest comes later
    assert meter.read() is None
    port.write(b"00.0\r\n")
    assert meter.read() == Reading(power_w=1.5)
    meter.close()


def _um25c_frame(millivolts: int, tenth_milliamps: int, milliwatts: int, model: int = 0x09C9) -> bytes:
    frame = bytearray(130)
    struct.pack_into(">HHHI", frame, 0, model, millivolts, tenth_milliamps, milliwatts)
    return bytes(frame)


class UMEmulator:
    """A UM25C on loopback: answers each 0xF0 with a frame; ``frames`` is consumed in order."""

    def __init__(self, frames):
        self.frames = list(frames)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.server.settimeout(10)
        conn, _ = self.server.accept()
        with conn:
            conn.settimeout(10)
            while self.frames:
                if conn.recv(1) != b"\xf0":
                    break
                conn.sendall(self.frames.pop(0))

    def close(self):
        self.server.close()
        self.thread.join(5)


def test_um25c_binary_protocol_over_a_socket_emulator():
    emulator = UMEmulator([_um25c_frame(5120, 4000, 2048),            # 5.12 V × 0.4 A = 2.048 W
                           _um25c_frame(5120, 4000, 2048, model=0x1234),  # unknown model: garbage
                           _um25c_frame(5120, 4000, 9999)])            # V·I disagrees with W: garbage
    meter = UMMeter(f"socket://127.0.0.1:{emulator.port}", timeout_s=2)
    try:
        assert meter.read() == Reading(power_w=2.048)
        assert meter.read() is None
        assert meter.read() is None
    finally:
        meter.close()
        emulator.close()
    assert UMMeter("socket://127.0.0.1:1", timeout_s=0.2).read() is None  # nothing listening: unavailable


def test_replay_follows_the_clock(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("t,temperature_c,throttled,battery_pct,charging,power_w\n"
                     "0,45,0,80,0,3.1\n10,72.5,1,79,0,4.0\n20,60,0,78,1,\n")
    now = [100.0]
    replay = Replay(trace, clock=lambda: now[0])
    assert replay.read() == Reading(45.0, False, 80.0, False, 3.1)
    now[0] = 115.0
    assert replay.read() == Reading(72.5, True, 79.0, False, 4.0)
    now[0] = 125.0
    assert replay.read() is None  # past the end
    looping = Replay(trace, clock=lambda: now[0], loop=True)
    now[0] = 125.0 + 30
    assert looping.read().temperature_c == 72.5
    (tmp_path / "bad.csv").write_text("time,temp\n1,2\n")
    with pytest.raises(EdgeslimError, match="bad.csv: not a telemetry trace"):
        Replay(tmp_path / "bad.csv")


def test_telemetry_combines_sources_and_survives_broken_ones(tmp_path, caplog):
    write(tmp_path, {"thermal_zone0/temp": "70000"})

    class Broken:
        name = "broken"

        def read(self):
            raise serial.SerialException("unplugged")

    telemetry = Telemetry([ThermalZones(tmp_path), Broken(), PowerSupply(tmp_path / "none")])
    assert telemetry.read() == Reading(temperature_c=70.0, throttled=None)
    assert telemetry.read() == Reading(temperature_c=70.0)
    warnings = [r.message for r in caplog.records if "telemetry source" in r.message]
    assert len(warnings) == 2  # once per failing source, not once per read
    assert Telemetry([Broken()]).read() is None

#!/usr/bin/python3
"""Builds the register images the profile tests serve, from the vendors' published maps.

Each image puts plausible values at the documented addresses with the documented encoding,
encoded here with Python's struct module (independently of hubmeter's Swift codec), and lists
the canonical values the hub must decode, in the hub's sign convention:
grid + = import, battery + = discharge. Run: /usr/bin/python3 make_profile_images.py
"""
import json
import struct


def words(fmt, value, word_swap=False):
    data = struct.pack(">" + fmt, value)
    regs = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    return list(reversed(regs)) if word_swap else regs


def text(value, registers):
    data = value.encode().ljust(registers * 2, b"\0")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


class Image:
    def __init__(self, unit):
        self.unit = str(unit)
        self.tables = {}

    def put(self, table, address, registers):
        block = self.tables.setdefault(table, {})
        for offset, value in enumerate(registers):
            block[address + offset] = value

    def fill(self, table, start, end):
        for address in range(start, end):
            self.tables.setdefault(table, {}).setdefault(address, 0)

    def json(self):
        units = {}
        for table, block in self.tables.items():
            # contiguous runs, as the peer's image format expects
            runs = {}
            start = None
            previous = None
            for address in sorted(block):
                if start is None or address != previous + 1:
                    start = address
                    runs[str(start)] = []
                runs[str(start)].append(block[address])
                previous = address
            units[table] = runs
        return {self.unit: units}


images = {}

# Eastron SDM630: input registers, float32 ABCD; kWh counters.
sdm = Image(1)
sdm.fill("input", 0, 0x4C)
for address, value in [(0x00, 230.1), (0x02, 231.2), (0x04, 229.8), (0x06, 5.25), (0x08, 4.5), (0x0A, 6.0),
                       (0x0C, 1200.0), (0x0E, 1000.0), (0x10, 1300.0), (0x34, 3500.0), (0x46, 50.0),
                       (0x48, 12345.5), (0x4A, 678.25)]:
    sdm.put("input", address, words("f", value))
sdm.put("holding", 0xFC00, words("I", 12345678))
images["eastron-sdm630"] = (sdm, {"grid_power": 3500.0, "grid_import_energy": 12345500.0, "grid_export_energy": 678250.0},
                            {"serial_number": 12345678, "frequency": 50.0})

# Carlo Gavazzi EM24: input registers, int32 CDAB, int16; W/10, kWh/10. Exporting: power < 0.
em24 = Image(1)
em24.fill("input", 0, 0x5E)
for address, value in [(0x00, 2301), (0x02, 2312), (0x04, 2298), (0x0C, 5250), (0x0E, 4500), (0x10, 6000),
                       (0x12, -12000), (0x14, -10000), (0x16, -13000), (0x28, -35000), (0x42, 123455), (0x5C, 6782)]:
    em24.put("input", address, words("i", value, word_swap=True))
em24.put("input", 0x32, words("h", 990) + words("h", 985) + words("h", -995))
em24.put("input", 0x37, words("h", 500))
images["carlo-gavazzi-em24"] = (em24, {"grid_power": -3500.0, "grid_import_energy": 12345500.0, "grid_export_energy": 678200.0},
                                {"power_factor_l3": -0.995, "frequency": 50.0})

# Carlo Gavazzi EM340: same pattern, other addresses.
em340 = Image(2)
em340.fill("input", 0, 0x50)
for address, value in [(0x00, 2301), (0x0C, 5250), (0x12, 12000), (0x28, 42017), (0x34, 987654), (0x4E, 12)]:
    em340.put("input", address, words("i", value, word_swap=True))
em340.put("input", 0x33, words("h", 499))
images["carlo-gavazzi-em340"] = (em340, {"grid_power": 4201.7, "grid_import_energy": 98765400.0, "grid_export_energy": 1200.0},
                                 {"frequency": 49.9})

# Janitza UMG 96RM: holding registers 19000+, float32 ABCD, energies in Wh.
umg = Image(1)
umg.fill("holding", 19000, 19078)
for address, value in [(19000, 230.0), (19026, -2500.5), (19042, 120.0), (19050, 50.02), (19068, 4567890.0), (19076, 1234.0)]:
    umg.put("holding", address, words("f", value))
images["janitza-umg96rm"] = (umg, {"grid_power": -2500.5, "grid_import_energy": 4567890.0, "grid_export_energy": 1234.0}, {})

# Victron GX system service, unit 100: int16/uint16 W; battery + = charge on the GX.
victron = Image(100)
victron.fill("holding", 808, 851)
victron.put("holding", 808, [100, 200, 300, 0, 0, 0])
victron.put("holding", 817, [800, 900, 1000])
victron.put("holding", 820, words("h", 500) + words("h", -200) + words("h", 300))
victron.put("holding", 840, [523, (-125) & 0xFFFF, (-650) & 0xFFFF, 87, 2])
victron.put("holding", 850, [1500])
images["victron-gx-system"] = (victron, {"grid_power": 600.0, "pv_power": 2100.0, "battery_power": 650.0, "battery_soc": 87.0},
                               {"battery_current": -12.5})

# SMA Sunny Tripower, unit 3: S32/U32/U64 big-endian with NaN patterns; frequency not available.
sma = Image(3)
sma.put("holding", 30051, words("I", 8001))
sma.put("holding", 30057, words("I", 3001234567))
sma.put("holding", 30201, words("I", 307))
sma.put("holding", 30513, words("Q", 98765432))
sma.put("holding", 30775, words("i", 8123))
sma.put("holding", 30783, words("I", 23045))
sma.put("holding", 30803, words("I", 0xFFFFFFFF))
images["sma-sunny-tripower"] = (sma, {"pv_power": 8123.0, "pv_energy": 98765432.0}, {"grid_voltage_l1": 230.45, "grid_frequency": None})

# Huawei SUN2000 inverter: int32 BE, yield U32 in 0.01 kWh; active power NaN.
inverter = Image(1)
inverter.put("holding", 30000, text("SUN2000-10KTL-M1", 15) + text("HV2150012345", 10))
inverter.fill("holding", 32064, 32108)
inverter.put("holding", 32064, words("i", 5234))
inverter.put("holding", 32080, words("I", 0x7FFFFFFF))
inverter.put("holding", 32106, words("I", 1234567))
inverter.put("holding", 47415, [1])
inverter.fill("holding", 47416, 47418)
inverter.put("holding", 47418, [1000])
images["huawei-sun2000-inverter"] = (inverter, {"pv_power": 5234.0, "pv_energy": 12345670.0},
                                     {"active_power": None, "model": "SUN2000-10KTL-M1", "serial_number": "HV2150012345"})

# Huawei meter through the inverter: + = export on the device.
meter = Image(1)
meter.fill("holding", 37100, 37123)
meter.put("holding", 37100, [1])
meter.put("holding", 37101, words("i", 2305))
meter.put("holding", 37113, words("i", 1500))
meter.put("holding", 37119, words("i", 2345678))
meter.put("holding", 37121, words("i", 345678))
images["huawei-sun2000-meter"] = (meter, {"grid_power": -1500.0, "grid_export_energy": 23456780.0, "grid_import_energy": 3456780.0}, {})

# Huawei LUNA2000 battery: SoC ×0.1 %, power + = charge on the device.
battery = Image(1)
battery.fill("holding", 37760, 37784)
battery.put("holding", 37760, [655])
battery.put("holding", 37762, [2])
battery.put("holding", 37765, words("i", -2400))
battery.put("holding", 37780, words("I", 123456))
battery.put("holding", 37782, words("I", 112233))
images["huawei-sun2000-battery"] = (battery, {"battery_soc": 65.5, "battery_power": 2400.0, "battery_charge_energy": 1234560.0,
                                              "battery_discharge_energy": 1122330.0}, {})

for name, (image, canonical, points) in images.items():
    document = {"profile": name, "unit": int(image.unit), "image": {"units": image.json()},
                "canonical": canonical, "points": points}
    with open(f"profile-images/{name}.json", "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")
print(f"wrote {len(images)} images")

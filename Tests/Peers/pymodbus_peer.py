#!/usr/bin/python3
"""An independent Modbus peer for hubmeter's tests, built on pymodbus (Debian's python3-pymodbus).

server-tcp / server-rtu: serve a register image; print "READY" once listening.
client-tcp / client-rtu: read registers and print them as JSON, or the error.

The image is JSON: {"units": {"1": {"holding": {"40000": [21365, 28243]}, "input": {"0": [1, 2]}}}}.
Addresses are 0-based protocol addresses (zero_mode), as on the wire.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock
from pymodbus.framer.rtu_framer import ModbusRtuFramer


def build_context(image):
    slaves = {}
    for unit, tables in image["units"].items():
        blocks = {}
        for kind in ("holding", "input", "coil", "discrete_input"):
            values = {}
            for start, registers in tables.get(kind, {}).items():
                for offset, value in enumerate(registers):
                    values[int(start) + offset] = value
            # pymodbus rejects an empty sparse block; one unused address keeps the table valid.
            blocks[kind] = ModbusSparseDataBlock(values or {65535: 0})
        slaves[int(unit)] = ModbusSlaveContext(
            hr=blocks["holding"], ir=blocks["input"], co=blocks["coil"], di=blocks["discrete_input"], zero_mode=True
        )
    return ModbusServerContext(slaves=slaves, single=False)


async def serve(args):
    from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer

    with open(args.image, encoding="utf-8") as handle:
        context = build_context(json.load(handle))
    if args.mode == "server-tcp":
        server = await StartAsyncTcpServer(context=context, address=("127.0.0.1", args.port), defer_start=True)
        task = asyncio.create_task(server.serve_forever())
    else:
        server = await StartAsyncSerialServer(
            context=context, framer=ModbusRtuFramer, port=args.device, baudrate=args.baud,
            bytesize=8, parity="N", stopbits=1, defer_start=True, ignore_missing_slaves=True,
        )
        await server.start()
        task = asyncio.create_task(server.serve_forever())
    await asyncio.sleep(0.2)
    print("READY", flush=True)
    await task


def read(args):
    if args.mode == "client-tcp":
        from pymodbus.client import ModbusTcpClient
        client = ModbusTcpClient("127.0.0.1", port=args.port, timeout=2)
    else:
        from pymodbus.client import ModbusSerialClient
        client = ModbusSerialClient(port=args.device, baudrate=args.baud, timeout=2, framer=ModbusRtuFramer)
    if not client.connect():
        print(json.dumps({"error": "cannot connect"}))
        return 1
    if args.kind == "holding":
        response = client.read_holding_registers(args.address, args.count, slave=args.unit)
    else:
        response = client.read_input_registers(args.address, args.count, slave=args.unit)
    client.close()
    if response.isError():
        code = getattr(response, "exception_code", None)
        print(json.dumps({"error": str(response), "exception_code": code}))
        return 1
    print(json.dumps({"registers": response.registers}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server-tcp", "server-rtu", "client-tcp", "client-rtu"])
    parser.add_argument("--port", type=int, default=5020)
    parser.add_argument("--device")
    parser.add_argument("--baud", type=int, default=19200)
    parser.add_argument("--image")
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--kind", default="holding")
    parser.add_argument("--address", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    # The test process may spawn us with signals blocked; unblock them so SIGTERM stops us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if args.mode.startswith("server"):
        asyncio.run(serve(args))
        return 0
    return read(args)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A minimal asyncio Modbus TCP responder for the 200-device benchmark: COUNT listening ports
(BASE..BASE+COUNT-1), each answering function 3/4 reads with deterministic registers. Kept out of
the measured process so that only the poller's CPU is counted. Usage: modbus_tcp_sim.py BASE COUNT"""
import asyncio
import struct
import sys


async def handle(reader, writer):
    try:
        while True:
            header = await reader.readexactly(7)
            transaction, protocol, length, unit = struct.unpack(">HHHB", header)
            pdu = await reader.readexactly(length - 1)
            function = pdu[0]
            if function in (3, 4):
                address, count = struct.unpack(">HH", pdu[1:5])
                data = struct.pack(">%dH" % count, *[(address + i) & 0xFFFF for i in range(count)])
                body = bytes([function, len(data)]) + data
            else:
                body = bytes([function | 0x80, 1])
            writer.write(struct.pack(">HHHB", transaction, 0, len(body) + 1, unit) + body)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(base, count):
    servers = [await asyncio.start_server(handle, "127.0.0.1", base + i) for i in range(count)]
    print("READY", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))

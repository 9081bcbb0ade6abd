// LZ4's frame format (lz4frame.h): the aggregator's SQLite store keeps interval payloads as LZ4
// frames, which the `lz4` command-line tool reads (docs/aggregator.md).
#include <lz4frame.h>

#!/usr/bin/env bash
# Builds the release `hubmeter` binary the one way it is installed, benchmarked and demonstrated,
# and prints its path on stdout (the build's own output goes to stderr):
#   - the Swift runtime and Foundation linked in statically (--static-swift-stdlib), so the
#     gateway box needs no Swift toolchain;
#   - every Swift function in an ELF section of its own (-function-sections), in our modules and
#     in the packages we depend on. Without it, a file's internal functions, closures and async
#     parts share one section, and the linker's symbol ordering (Package.swift,
#     scripts/link-order/) cannot gather the code the agent runs; that code's spread is what
#     keeps the agent's pages resident (docs/performance.md).
# One set of flags for every caller, so there is one release build in .build/release. A tree built
# before with other flags must drop its objects once (find .build/*/release -name '*.swift.o' -delete):
# the compiler keeps an object whose code did not change, even when the flags did.
#   scripts/build-release.sh            build, print the binary's path
#   scripts/build-release.sh --path     print the path only
set -euo pipefail
cd "$(dirname "$0")/.."
flags=(-c release --product hubmeter --static-swift-stdlib -Xswiftc -Xfrontend -Xswiftc -function-sections)
if [[ "${1:-}" != "--path" ]]; then swift build "${flags[@]}" >&2; fi
echo "$(swift build "${flags[@]}" --show-bin-path)/hubmeter"

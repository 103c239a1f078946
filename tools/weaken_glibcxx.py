#!/usr/bin/env python3
"""Mark libstdc++ version requirements the system lacks as weak in an ELF shared library.

TorchSharp 0.107's libLibTorchSharp.so is built with GCC 13 and requires GLIBCXX_3.4.32 for one
symbol (_ZSt21ios_base_library_initv) that GCC 13's <iostream> references only to pin the version and
never calls. Debian 12's libstdc++ stops at GLIBCXX_3.4.30, so the library fails to load. Setting
VER_FLG_WEAK on that requirement in .gnu.version_r lets ld.so load it ("weak version not found" is not
an error). Only requirements on libstdc++.so.6 that the system's libstdc++ does not define are touched;
running it again changes nothing. Standard library only. See ../../shared/reference/toolchain-notes.md §3.

usage: weaken_glibcxx.py [--libstdcxx PATH] LIBRARY...
"""
import os
import struct
import sys

SHT_GNU_VERDEF = 0x6FFFFFFD
SHT_GNU_VERNEED = 0x6FFFFFFE
VER_FLG_WEAK = 0x2


def sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, _ = struct.unpack_from("<HHH", data, 0x3A)
    result = []
    for i in range(shnum):
        name, typ, _flags, _addr, offset, size, link, info, _align, _entsize = struct.unpack_from(
            "<IIQQQQIIQQ", data, shoff + i * shentsize)
        result.append({"type": typ, "offset": offset, "size": size, "link": link, "info": info})
    return result


def cstring(data, offset):
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", "replace")


def defined_versions(path):
    with open(path, "rb") as f:
        data = f.read()
    secs = sections(data)
    names = set()
    for s in secs:
        if s["type"] != SHT_GNU_VERDEF:
            continue
        strtab = secs[s["link"]]["offset"]
        off = s["offset"]
        for _ in range(s["info"]):
            _ver, _flags, _ndx, cnt, _hash, aux, nxt = struct.unpack_from("<HHHHIII", data, off)
            a = off + aux
            for _ in range(cnt):
                name, anext = struct.unpack_from("<II", data, a)
                names.add(cstring(data, strtab + name))
                a += anext
            if nxt == 0:
                break
            off += nxt
    return names


def weaken(path, available):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    secs = sections(data)
    changed = []
    for s in secs:
        if s["type"] != SHT_GNU_VERNEED:
            continue
        strtab = secs[s["link"]]["offset"]
        off = s["offset"]
        for _ in range(s["info"]):
            _ver, cnt, fname, aux, nxt = struct.unpack_from("<HHIII", data, off)
            library = cstring(data, strtab + fname)
            a = off + aux
            for _ in range(cnt):
                _hash, flags, _other, name, anext = struct.unpack_from("<IHHII", data, a)
                version = cstring(data, strtab + name)
                if library == "libstdc++.so.6" and version not in available and not flags & VER_FLG_WEAK:
                    struct.pack_into("<H", data, a + 4, flags | VER_FLG_WEAK)
                    changed.append(version)
                if anext == 0:
                    break
                a += anext
            if nxt == 0:
                break
            off += nxt
    if changed:
        tmp = path + ".weaken.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, os.stat(path).st_mode)
        os.replace(tmp, path)
    return changed


def main(argv):
    libstdcxx = "/lib/x86_64-linux-gnu/libstdc++.so.6"
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--libstdcxx":
        libstdcxx, args = args[1], args[2:]
    if not args:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    if not os.path.exists(libstdcxx):
        print(f"weaken_glibcxx: {libstdcxx} not found; nothing to compare against", file=sys.stderr)
        return 1
    available = defined_versions(os.path.realpath(libstdcxx))
    for path in args:
        try:
            changed = weaken(path, available)
        except (OSError, ValueError) as e:
            print(f"weaken_glibcxx: {path}: {e}", file=sys.stderr)
            return 1
        print(f"weaken_glibcxx: {path}: " + (f"marked weak: {', '.join(changed)}" if changed else "nothing to do"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""png_zlib.py — a small PNG decoder on Python's zlib, for the report tests (no PIL on the test machines): 8-bit
greyscale, RGB, grey+alpha and RGBA, non-interlaced (what Chromium's --screenshot writes). Also a crop-and-write
helper, to look at part of a screenshot."""
import struct
import zlib


def read(path):
    """Returns (width, height, channels, rows) with rows a list of bytes objects, one per scanline."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if ihdr is None:
        raise ValueError(f"{path}: no IHDR chunk")
    width, height, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ftype == 0:
            rows.append(bytes(line))
            prev = line
            continue
        if ftype == 2:  # "up", the most common filter: one pass over two rows
            line = bytearray((u + v) & 255 for u, v in zip(line, prev))
            rows.append(bytes(line))
            prev = line
            continue
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def pixels(width, height, channels, rows, step=1):
    """Yields (r, g, b) of every step-th pixel of every step-th row."""
    for y in range(0, height, step):
        row = rows[y]
        for x in range(0, width, step):
            px = row[x * channels:(x + 1) * channels]
            if channels >= 3:
                yield px[0], px[1], px[2]
            else:
                yield px[0], px[0], px[0]


def write_crop(src, dst, x0, y0, x1, y1):
    """Writes the rectangle [x0, x1) x [y0, y1) of src as an RGB PNG."""
    width, height, channels, rows = read(src)
    x1, y1 = min(x1, width), min(y1, height)
    out = bytearray()
    for y in range(y0, y1):
        out.append(0)
        for r, g, b in ((rows[y][x * channels], rows[y][x * channels + min(1, channels - 1)],
                         rows[y][x * channels + min(2, channels - 1)]) for x in range(x0, x1)):
            out += bytes((r, g, b))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)

    with open(dst, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", x1 - x0, y1 - y0, 8, 2, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(bytes(out), 6)) + chunk(b"IEND", b""))

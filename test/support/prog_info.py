#!/usr/bin/env python3
# bpf_prog_info of loaded programs straight from the bpf() system call (the bpftool of bookworm,
# 7.1, does not print recursion_misses). Usage: prog_info.py ID... ; prints a JSON list of
# {id, name, run_time_ns, run_cnt, recursion_misses}.
import ctypes, json, os, sys

SYS_BPF = {'x86_64': 321, 'aarch64': 280}[os.uname().machine]
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
libc = ctypes.CDLL(None, use_errno=True)

def bpf(cmd, attr):
    r = libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r

def info(prog_id):
    attr = (ctypes.c_uint8 * 128)()
    ctypes.c_uint32.from_buffer(attr, 0).value = prog_id
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    try:
        buf = (ctypes.c_uint8 * 256)()
        attr = (ctypes.c_uint8 * 128)()
        ctypes.c_uint32.from_buffer(attr, 0).value = fd                      # bpf_fd
        ctypes.c_uint32.from_buffer(attr, 4).value = ctypes.sizeof(buf)      # info_len
        ctypes.c_uint64.from_buffer(attr, 8).value = ctypes.addressof(buf)  # info
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
    finally:
        os.close(fd)
    u32 = lambda off: ctypes.c_uint32.from_buffer(buf, off).value
    u64 = lambda off: ctypes.c_uint64.from_buffer(buf, off).value
    # Offsets in struct bpf_prog_info (include/uapi/linux/bpf.h): id 4, name 64,
    # run_time_ns 192, run_cnt 200, recursion_misses 208.
    return {'id': u32(4), 'name': bytes(buf[64:80]).split(b'\0')[0].decode(), 'run_time_ns': u64(192), 'run_cnt': u64(200), 'recursion_misses': u64(208)}

print(json.dumps([info(int(a)) for a in sys.argv[1:]]))

package dev.vhostnet.microvm;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A bzImage that is no Linux: a valid boot protocol 2.15 setup header, then a few instructions at
 * the 64-bit entry. {@link #OK_AND_RESET} shows the whole boot path — long mode, paging, GDT, RSI,
 * the port bus, the reset — on any KVM that runs 64-bit guests, in milliseconds.
 */
final class TinyKernel {
    /** Writes "OK" and the zero page's {@code type_of_loader} (read through RSI) to COM1, then resets through the i8042. */
    static final byte[] OK_AND_RESET = {
        0x66,
        (byte) 0xba,
        (byte) 0xf8,
        0x03, // mov dx, 0x3f8
        (byte) 0xb0,
        'O',
        (byte) 0xee, // mov al, 'O'; out dx, al
        (byte) 0xb0,
        'K',
        (byte) 0xee, // mov al, 'K'; out dx, al
        (byte) 0x8a,
        (byte) 0x86,
        0x10,
        0x02,
        0x00,
        0x00, // mov al, [rsi + 0x210]
        (byte) 0xee, // out dx, al
        (byte) 0xb0,
        (byte) 0xfe,
        (byte) 0xe6,
        0x64, // mov al, 0xfe; out 0x64, al
        (byte) 0xf4,
        (byte) 0xeb,
        (byte) 0xfd, // hlt; jmp hlt
    };
    /** {@code jmp $}: runs until stopped. */
    static final byte[] SPIN = {(byte) 0xeb, (byte) 0xfe};
    /** {@code cli; hlt; jmp hlt}: Linux's halt. */
    static final byte[] HALT = {(byte) 0xfa, (byte) 0xf4, (byte) 0xeb, (byte) 0xfd};

    private TinyKernel() {}

    /** Writes an image whose 64-bit entry is {@code code} to {@code dir}/{@code name}. */
    static Path write(Path dir, String name, byte[] code) throws IOException {
        ByteBuffer header = BzImageTest.header();
        byte[] kernel = new byte[(int) BzImage.ENTRY_64_OFFSET + code.length];
        System.arraycopy(code, 0, kernel, (int) BzImage.ENTRY_64_OFFSET, code.length);
        Path file = dir.resolve(name);
        Files.write(file, header.array());
        Files.write(file, kernel, java.nio.file.StandardOpenOption.APPEND);
        return file;
    }
}

package dev.vhostnet.microvm;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;

/**
 * A 16550A UART as Linux's 8250 driver and its console see it (rust-vmm {@code vm-superio}
 * {@code serial.rs}, which Firecracker uses; register map from Linux
 * {@code include/uapi/linux/serial_reg.h}): THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and,
 * with LCR.DLAB, the divisor latch. Transmission is instant: LSR always reads THRE|TEMT, and each
 * byte written raises the THR-empty interrupt when enabled. The interrupt line is a level, as on
 * the chip and in QEMU's {@code serial.c}: high while IIR holds a pending interrupt, low once the
 * guest has read it — so an edge the interrupt controller missed cannot stall the port for good. Enabling that interrupt raises none by
 * itself, so Linux's start-up probe marks the port {@code UART_BUG_TXEN} and pushes the first
 * byte without waiting for one — no timer is involved, which matters where guest timers stop.
 * Input: {@link #receive} fills a 64-byte FIFO.
 */
public final class Serial8250 implements BusDevice {
    static final int DATA = 0;
    static final int IER = 1;
    static final int IIR = 2;
    static final int FCR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;
    static final int PORTS = 8;

    static final int IER_RDI = 0x01;
    static final int IER_THRI = 0x02;
    static final int IER_VALID = 0x0f;
    static final int IIR_NO_INT = 0x01;
    static final int IIR_THRI = 0x02;
    static final int IIR_RDI = 0x04;
    static final int IIR_FIFO_ENABLED = 0xc0;
    static final int FCR_CLEAR_RCVR = 0x02;
    static final int LCR_DLAB = 0x80;
    static final int MCR_DTR = 0x01;
    static final int MCR_RTS = 0x02;
    static final int MCR_OUT1 = 0x04;
    static final int MCR_OUT2 = 0x08;
    static final int MCR_LOOP = 0x10;
    static final int LSR_DR = 0x01;
    static final int LSR_THRE = 0x20;
    static final int LSR_TEMT = 0x40;
    static final int MSR_CTS = 0x10;
    static final int MSR_DSR = 0x20;
    static final int MSR_RI = 0x40;
    static final int MSR_DCD = 0x80;
    static final int FIFO_SIZE = 64;

    private final OutputStream out;
    private final InterruptLine line;
    private boolean lineLevel;
    private final ArrayDeque<Byte> in = new ArrayDeque<>();
    private int divisorLow = 0x0c; // 9600 baud
    private int divisorHigh;
    private int ier;
    private int iir = IIR_NO_INT;
    private int lcr = 0x03; // 8N1
    private int mcr = MCR_OUT2;
    private int lsr = LSR_THRE | LSR_TEMT;
    private final int msr = MSR_DSR | MSR_CTS | MSR_DCD;
    private int scr;
    private long lostBytes;

    /** A UART whose output goes to {@code out} and whose interrupt drives {@code line}. */
    public Serial8250(OutputStream out, InterruptLine line) {
        this.out = out;
        this.line = line;
    }

    @Override
    public synchronized void read(long offset, byte[] data) {
        java.util.Arrays.fill(data, (byte) 0);
        data[0] = (byte) readRegister((int) offset);
        updateLine();
    }

    @Override
    public synchronized void write(long offset, byte[] data) {
        writeRegister((int) offset, data[0] & 0xff);
        updateLine();
    }

    private int readRegister(int offset) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case DATA:
                if (dlab) {
                    return divisorLow;
                }
                clearInterrupt(IIR_RDI);
                int b = in.isEmpty() ? 0 : in.poll() & 0xff;
                if (in.isEmpty()) {
                    lsr &= ~LSR_DR;
                }
                return b;
            case IER:
                return dlab ? divisorHigh : ier;
            case IIR:
                int value = iir | IIR_FIFO_ENABLED;
                iir = IIR_NO_INT;
                return value;
            case LCR:
                return lcr;
            case MCR:
                return mcr;
            case LSR:
                return lsr;
            case MSR:
                return (mcr & MCR_LOOP) == 0 ? msr : loopbackModemStatus();
            case SCR:
                return scr;
            default:
                return 0;
        }
    }

    /** In loopback the modem inputs follow the outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
    private int loopbackModemStatus() {
        int value = 0;
        value |= (mcr & MCR_RTS) != 0 ? MSR_CTS : 0;
        value |= (mcr & MCR_DTR) != 0 ? MSR_DSR : 0;
        value |= (mcr & MCR_OUT1) != 0 ? MSR_RI : 0;
        value |= (mcr & MCR_OUT2) != 0 ? MSR_DCD : 0;
        return value;
    }

    private void writeRegister(int offset, int value) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case DATA:
                if (dlab) {
                    divisorLow = value;
                } else if ((mcr & MCR_LOOP) != 0) {
                    receive(new byte[] {(byte) value});
                } else {
                    transmit(value);
                }
                break;
            case IER:
                if (dlab) {
                    divisorHigh = value;
                } else {
                    ier = value & IER_VALID;
                }
                break;
            case FCR:
                if ((value & FCR_CLEAR_RCVR) != 0) {
                    in.clear();
                    lsr &= ~LSR_DR;
                }
                break;
            case LCR:
                lcr = value;
                break;
            case MCR:
                mcr = value;
                break;
            case SCR:
                scr = value;
                break;
            default:
                break; // LSR and MSR are read-only
        }
    }

    private void transmit(int value) {
        try {
            out.write(value);
            out.flush();
        } catch (IOException | UncheckedIOException e) {
            lostBytes++;
        }
        // The interrupt comes whether or not the byte could be written: the guest must not stall.
        raise(IER_THRI, IIR_THRI);
    }

    /** Queues bytes for the guest to read, as many as the FIFO has room for; returns how many. */
    public synchronized int receive(byte[] bytes) {
        int n = Math.min(bytes.length, FIFO_SIZE - in.size());
        for (int i = 0; i < n; i++) {
            in.add(bytes[i]);
        }
        if (n > 0) {
            lsr |= LSR_DR;
            raise(IER_RDI, IIR_RDI);
            updateLine();
        }
        return n;
    }

    /** Output bytes the stream refused. */
    public synchronized long lostBytes() {
        return lostBytes;
    }

    private void raise(int enable, int identification) {
        if ((ier & enable) != 0 && (iir & identification) == 0) {
            iir = (iir & ~IIR_NO_INT) | identification;
        }
    }

    private void updateLine() {
        boolean level = iir != IIR_NO_INT;
        if (level != lineLevel) {
            lineLevel = level;
            line.set(level);
        }
    }

    private void clearInterrupt(int identification) {
        iir &= ~identification;
        if (iir == 0) {
            iir = IIR_NO_INT;
        }
    }
}

package dev.vhostnet.microvm;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;

/**
 * A 16550A UART as Linux's 8250 driver and its console see it (register map from Linux
 * {@code include/uapi/linux/serial_reg.h}): THR/RBR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR and,
 * with LCR.DLAB, the divisor latch. Transmission is instant: LSR always reads THRE|TEMT.
 *
 * <p>Interrupts follow QEMU's {@code hw/char/serial.c}: IIR is recomputed from IER and the pending
 * sources after every access ({@code serial_update_irq}), highest priority first (received data,
 * then THR empty); THR empty is pending after each byte sent and when IER turns THRI on while the
 * transmitter is empty; reading IIR while it names THR empty acknowledges it; clearing IER lowers
 * the line. The line is a level, high while IIR names a source. A UART that raised nothing when THRI
 * was enabled (as this one once did) makes Linux mark the port {@code UART_BUG_TXEN} and stalls a
 * nested guest's console after one FIFO load.
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
    private boolean thrPending;
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
        update();
    }

    @Override
    public synchronized void write(long offset, byte[] data) {
        writeRegister((int) offset, data[0] & 0xff);
        update();
    }

    private int readRegister(int offset) {
        boolean dlab = (lcr & LCR_DLAB) != 0;
        switch (offset) {
            case DATA:
                if (dlab) {
                    return divisorLow;
                }
                int b = in.isEmpty() ? 0 : in.poll() & 0xff;
                if (in.isEmpty()) {
                    lsr &= ~LSR_DR;
                }
                return b;
            case IER:
                return dlab ? divisorHigh : ier;
            case IIR:
                int value = iir | IIR_FIFO_ENABLED;
                if (iir == IIR_THRI) {
                    thrPending = false;
                }
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
                    int enabled = value & ~ier & IER_THRI;
                    ier = value & IER_VALID;
                    if (enabled != 0 && (lsr & LSR_THRE) != 0) {
                        thrPending = true;
                    }
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

    /** QEMU {@code serial_ioport_write} then {@code serial_xmit}: the line drops and rises again, one edge per byte. */
    private void transmit(int value) {
        thrPending = false;
        update();
        try {
            out.write(value);
            out.flush();
        } catch (IOException | UncheckedIOException e) {
            lostBytes++;
        }
        // The interrupt comes whether or not the byte could be written: the guest must not stall.
        thrPending = true;
    }

    /** Queues bytes for the guest to read, as many as the FIFO has room for; returns how many. */
    public synchronized int receive(byte[] bytes) {
        int n = Math.min(bytes.length, FIFO_SIZE - in.size());
        for (int i = 0; i < n; i++) {
            in.add(bytes[i]);
        }
        if (n > 0) {
            lsr |= LSR_DR;
            update();
        }
        return n;
    }

    /** Output bytes the stream refused. */
    public synchronized long lostBytes() {
        return lostBytes;
    }

    /** QEMU {@code serial_update_irq}: IIR names the highest pending enabled source; the line follows it. */
    private void update() {
        if ((ier & IER_RDI) != 0 && (lsr & LSR_DR) != 0) {
            iir = IIR_RDI;
        } else if ((ier & IER_THRI) != 0 && thrPending) {
            iir = IIR_THRI;
        } else {
            iir = IIR_NO_INT;
        }
        boolean level = iir != IIR_NO_INT;
        if (level != lineLevel) {
            lineLevel = level;
            line.set(level);
        }
    }
}

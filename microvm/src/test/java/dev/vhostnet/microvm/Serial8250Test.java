package dev.vhostnet.microvm;

import static dev.vhostnet.microvm.Serial8250.DATA;
import static dev.vhostnet.microvm.Serial8250.FCR;
import static dev.vhostnet.microvm.Serial8250.IER;
import static dev.vhostnet.microvm.Serial8250.IIR;
import static dev.vhostnet.microvm.Serial8250.LCR;
import static dev.vhostnet.microvm.Serial8250.LSR;
import static dev.vhostnet.microvm.Serial8250.MCR;
import static dev.vhostnet.microvm.Serial8250.MSR;
import static dev.vhostnet.microvm.Serial8250.SCR;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import org.junit.jupiter.api.Test;

class Serial8250Test {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    /** Rising edges of the interrupt line, and its level now. */
    private int interrupts;

    private boolean line;
    private final Serial8250 uart = new Serial8250(out, level -> {
        interrupts += level ? 1 : 0;
        line = level;
    });

    private int read(int register) {
        byte[] b = new byte[1];
        uart.read(register, b);
        return b[0] & 0xff;
    }

    private void write(int register, int value) {
        uart.write(register, new byte[] {(byte) value});
    }

    @Test
    void bytesWrittenToThrReachTheOutput() {
        for (byte b : "hi\n".getBytes()) {
            write(DATA, b);
        }
        assertEquals("hi\n", out.toString());
        assertEquals(0, interrupts, "no THR-empty interrupt while IER leaves it off");
    }

    @Test
    void theTransmitterIsAlwaysReady() {
        assertEquals(Serial8250.LSR_THRE | Serial8250.LSR_TEMT, read(LSR));
        write(DATA, 'x');
        assertEquals(Serial8250.LSR_THRE | Serial8250.LSR_TEMT, read(LSR));
    }

    @Test
    void enablingThriWithAnEmptyTransmitterRaisesItAndReadingIirAcknowledgesIt() {
        write(IER, Serial8250.IER_THRI);
        assertEquals(1, interrupts, "a real 16550 (and QEMU) interrupts at once: Linux must not see UART_BUG_TXEN");
        assertEquals(true, line);
        assertEquals(Serial8250.IIR_THRI | Serial8250.IIR_FIFO_ENABLED, read(IIR));
        assertEquals(false, line, "reading IIR acknowledges THR empty and lowers the line");
        assertEquals(Serial8250.IIR_NO_INT | Serial8250.IIR_FIFO_ENABLED, read(IIR));
        write(IER, Serial8250.IER_THRI);
        assertEquals(1, interrupts, "only turning THRI on raises it, not writing it again");
    }

    @Test
    void eachByteSentIsANewEdgeForAnEdgeTriggeredPic() {
        write(IER, Serial8250.IER_THRI);
        write(DATA, 'a');
        write(DATA, 'b');
        assertEquals(3, interrupts, "one edge at enable and one per byte, though never acknowledged");
        assertEquals(true, line);
        write(IER, 0);
        assertEquals(false, line, "clearing IER masks the pending interrupt (Linux's console write does)");
        write(IER, Serial8250.IER_THRI);
        assertEquals(true, line, "and restoring it raises it again");
    }

    @Test
    void receivedDataOutranksThrEmptyAndIsClearedByReadingIt() {
        write(IER, Serial8250.IER_THRI | Serial8250.IER_RDI);
        uart.receive(new byte[] {'x'});
        assertEquals(Serial8250.IIR_RDI | Serial8250.IIR_FIFO_ENABLED, read(IIR));
        assertEquals(Serial8250.IIR_RDI | Serial8250.IIR_FIFO_ENABLED, read(IIR), "reading IIR does not clear data");
        assertEquals('x', read(DATA));
        assertEquals(Serial8250.IIR_THRI | Serial8250.IIR_FIFO_ENABLED, read(IIR), "then THR empty shows");
        assertEquals(false, line);
    }

    @Test
    void dlabSwitchesTheFirstTwoRegistersToTheDivisorLatch() {
        write(IER, 0x05);
        write(LCR, 0x83);
        write(DATA, 0x01);
        write(IER, 0x00);
        assertEquals(0x01, read(DATA));
        assertEquals(0x00, read(IER));
        assertEquals(0x83, read(LCR));
        write(LCR, 0x03);
        assertEquals(0x05, read(IER));
        assertEquals("", out.toString(), "divisor writes are not output");
    }

    @Test
    void scratchLineAndModemControlHoldWhatIsWritten() {
        write(SCR, 0xa5);
        assertEquals(0xa5, read(SCR));
        write(MCR, Serial8250.MCR_DTR | Serial8250.MCR_RTS | Serial8250.MCR_OUT2);
        assertEquals(0x0b, read(MCR));
        assertEquals(Serial8250.MSR_DCD | Serial8250.MSR_DSR | Serial8250.MSR_CTS, read(MSR));
    }

    @Test
    void loopbackModeEchoesToTheReceiverAndMirrorsTheModemLines() {
        write(MCR, Serial8250.MCR_LOOP | Serial8250.MCR_RTS | Serial8250.MCR_OUT1);
        assertEquals(Serial8250.MSR_CTS | Serial8250.MSR_RI, read(MSR));
        write(DATA, 0x5a);
        assertEquals("", out.toString());
        assertEquals(Serial8250.LSR_DR, read(LSR) & Serial8250.LSR_DR);
        assertEquals(0x5a, read(DATA));
        assertEquals(0, read(LSR) & Serial8250.LSR_DR);
    }

    @Test
    void receivedBytesRaiseTheDataInterruptAndFlushEmptiesTheFifo() {
        write(IER, Serial8250.IER_RDI);
        assertEquals(2, uart.receive("ok".getBytes()));
        assertEquals(1, interrupts);
        assertEquals(Serial8250.IIR_RDI | Serial8250.IIR_FIFO_ENABLED, read(IIR));
        assertEquals('o', read(DATA));
        write(FCR, Serial8250.FCR_CLEAR_RCVR);
        assertEquals(0, read(LSR) & Serial8250.LSR_DR);
        assertEquals(Serial8250.FIFO_SIZE, uart.receive(new byte[100]), "the FIFO holds 64 bytes");
    }

    @Test
    void aFailingOutputLosesTheByteButStillInterrupts() {
        Serial8250 broken = new Serial8250(
                new OutputStream() {
                    @Override
                    public void write(int b) throws IOException {
                        throw new IOException("closed");
                    }
                },
                level -> interrupts += level ? 1 : 0);
        broken.write(IER, new byte[] {Serial8250.IER_THRI});
        broken.write(DATA, new byte[] {'x'});
        assertEquals(1, broken.lostBytes());
        assertEquals(2, interrupts, "the enable's, then the byte's");
    }
}

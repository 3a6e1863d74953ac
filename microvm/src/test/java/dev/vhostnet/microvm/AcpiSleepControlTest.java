package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AcpiSleepControlTest {
    @Test
    void onlySlpEnWithTheS5SleepTypePowersOff() {
        AtomicInteger powerOffs = new AtomicInteger();
        AcpiSleepControl sleep = new AcpiSleepControl(powerOffs::incrementAndGet);
        // What acpi_hw_extended_sleep writes first: WAK_STS to the status register (the same port).
        sleep.write(0, new byte[] {(byte) 0x80});
        sleep.write(0, new byte[] {(byte) (5 << 2)}); // S5's type without SLP_EN
        sleep.write(0, new byte[] {(byte) (0x20 | 3 << 2)}); // SLP_EN with S3's type
        assertEquals(0, powerOffs.get(), "no power-off but S5 with SLP_EN");
        sleep.write(0, new byte[] {(byte) (0x20 | 5 << 2)});
        assertEquals(1, powerOffs.get(), "SLP_EN | SLP_TYP 5: Linux's acpi_power_off");
        byte[] status = {(byte) 0xff};
        sleep.read(0, status);
        assertEquals(0, status[0]);
    }
}

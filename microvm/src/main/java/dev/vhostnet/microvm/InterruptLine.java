package dev.vhostnet.microvm;

/** A device's interrupt output, driven to a level (QEMU's {@code qemu_set_irq}). */
@FunctionalInterface
public interface InterruptLine {
    /** Raises ({@code true}) or lowers the line; called only when the level changes. */
    void set(boolean level);
}

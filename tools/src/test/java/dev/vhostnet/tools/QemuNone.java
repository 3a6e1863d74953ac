package dev.vhostnet.tools;

import java.util.ArrayList;
import java.util.List;

/** A QEMU with no machine and no devices, driven over QMP on its stdin: enough to see it take a netdev or a chardev. */
final class QemuNone {
    private QemuNone() {}

    /** {@code qemu-system-x86_64 -M none ... OPTIONS -qmp stdio}. */
    static List<String> command(String... options) {
        List<String> command =
                new ArrayList<>(List.of("qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none"));
        command.addAll(List.of(options));
        command.addAll(List.of("-qmp", "stdio"));
        return command;
    }
}

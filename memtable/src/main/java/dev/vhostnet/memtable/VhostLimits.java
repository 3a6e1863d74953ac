package dev.vhostnet.memtable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Limits the vhost module puts on a memory table. */
public final class VhostLimits {
    /** The module parameter QEMU and DPDK read too. */
    public static final Path MAX_MEM_REGIONS = Path.of("/sys/module/vhost/parameters/max_mem_regions");
    /** The module's default, used when it is not loaded. */
    public static final int DEFAULT_MAX_MEM_REGIONS = 64;

    private VhostLimits() {}

    /** {@code max_mem_regions} of the loaded vhost module, or 64 when it is not loaded. */
    public static int maxMemRegions() {
        return maxMemRegions(MAX_MEM_REGIONS);
    }

    static int maxMemRegions(Path parameter) {
        try {
            return Integer.parseInt(Files.readString(parameter).trim());
        } catch (IOException | NumberFormatException e) {
            return DEFAULT_MAX_MEM_REGIONS;
        }
    }
}

package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/** {@code <linux/vhost.h>} and {@code <linux/vhost_types.h>}: ioctls, feature bits and structs. */
public final class VhostUapi {
    private VhostUapi() {}

    public static final int VHOST_VIRTIO = 0xAF;

    public static final Ioctl VHOST_GET_FEATURES = Ioctl.ior("VHOST_GET_FEATURES", VHOST_VIRTIO, 0x00, 8);
    public static final Ioctl VHOST_SET_FEATURES = Ioctl.iow("VHOST_SET_FEATURES", VHOST_VIRTIO, 0x00, 8);
    public static final Ioctl VHOST_SET_OWNER = Ioctl.io("VHOST_SET_OWNER", VHOST_VIRTIO, 0x01);
    public static final Ioctl VHOST_RESET_OWNER = Ioctl.io("VHOST_RESET_OWNER", VHOST_VIRTIO, 0x02);
    public static final Ioctl VHOST_SET_MEM_TABLE =
            Ioctl.iow("VHOST_SET_MEM_TABLE", VHOST_VIRTIO, 0x03, VhostMemory.SIZE);
    public static final Ioctl VHOST_SET_LOG_BASE = Ioctl.iow("VHOST_SET_LOG_BASE", VHOST_VIRTIO, 0x04, 8);
    public static final Ioctl VHOST_SET_LOG_FD = Ioctl.iow("VHOST_SET_LOG_FD", VHOST_VIRTIO, 0x07, 4);
    public static final Ioctl VHOST_SET_VRING_NUM =
            Ioctl.iow("VHOST_SET_VRING_NUM", VHOST_VIRTIO, 0x10, VhostVringState.SIZE);
    public static final Ioctl VHOST_SET_VRING_ADDR =
            Ioctl.iow("VHOST_SET_VRING_ADDR", VHOST_VIRTIO, 0x11, VhostVringAddr.SIZE);
    /** Legacy (pre-1.0) cross-endian rings: {@code VHOST_VRING_LITTLE_ENDIAN} or {@code _BIG_ENDIAN}. */
    public static final Ioctl VHOST_SET_VRING_ENDIAN =
            Ioctl.iow("VHOST_SET_VRING_ENDIAN", VHOST_VIRTIO, 0x13, VhostVringState.SIZE);

    public static final Ioctl VHOST_GET_VRING_ENDIAN =
            Ioctl.iow("VHOST_GET_VRING_ENDIAN", VHOST_VIRTIO, 0x14, VhostVringState.SIZE);
    public static final int VHOST_VRING_LITTLE_ENDIAN = 0;
    public static final int VHOST_VRING_BIG_ENDIAN = 1;
    public static final Ioctl VHOST_SET_VRING_BASE =
            Ioctl.iow("VHOST_SET_VRING_BASE", VHOST_VIRTIO, 0x12, VhostVringState.SIZE);
    public static final Ioctl VHOST_GET_VRING_BASE =
            Ioctl.iowr("VHOST_GET_VRING_BASE", VHOST_VIRTIO, 0x12, VhostVringState.SIZE);
    public static final Ioctl VHOST_SET_VRING_KICK =
            Ioctl.iow("VHOST_SET_VRING_KICK", VHOST_VIRTIO, 0x20, VhostVringFile.SIZE);
    public static final Ioctl VHOST_SET_VRING_CALL =
            Ioctl.iow("VHOST_SET_VRING_CALL", VHOST_VIRTIO, 0x21, VhostVringFile.SIZE);
    public static final Ioctl VHOST_SET_VRING_ERR =
            Ioctl.iow("VHOST_SET_VRING_ERR", VHOST_VIRTIO, 0x22, VhostVringFile.SIZE);
    public static final Ioctl VHOST_SET_VRING_BUSYLOOP_TIMEOUT =
            Ioctl.iow("VHOST_SET_VRING_BUSYLOOP_TIMEOUT", VHOST_VIRTIO, 0x23, VhostVringState.SIZE);
    public static final Ioctl VHOST_GET_VRING_BUSYLOOP_TIMEOUT =
            Ioctl.iow("VHOST_GET_VRING_BUSYLOOP_TIMEOUT", VHOST_VIRTIO, 0x24, VhostVringState.SIZE);
    public static final Ioctl VHOST_SET_BACKEND_FEATURES =
            Ioctl.iow("VHOST_SET_BACKEND_FEATURES", VHOST_VIRTIO, 0x25, 8);
    public static final Ioctl VHOST_GET_BACKEND_FEATURES =
            Ioctl.ior("VHOST_GET_BACKEND_FEATURES", VHOST_VIRTIO, 0x26, 8);
    public static final Ioctl VHOST_NET_SET_BACKEND =
            Ioctl.iow("VHOST_NET_SET_BACKEND", VHOST_VIRTIO, 0x30, VhostVringFile.SIZE);

    /** Feature bit: the device adds/strips the virtio-net header itself (the tap has none). */
    public static final int VHOST_NET_F_VIRTIO_NET_HDR = 27;
    /** Feature bit: log all writes to guest memory (live migration). */
    public static final int VHOST_F_LOG_ALL = 26;
    /** Granularity of the dirty log: one bit per page of this size. */
    public static final int VHOST_PAGE_SIZE = 0x1000;
    /** {@code vhost_vring_addr.flags}: log used-ring writes at {@code log_guest_addr}. */
    public static final int VHOST_VRING_F_LOG = 0;
    /** {@code vhost_vring_file.fd} value that detaches a kick/call/err/backend fd. */
    public static final int VHOST_FILE_UNBIND = -1;

    /** {@code struct vhost_vring_state}: a vring index and a number (size, base, timeout). */
    @CExpr("struct vhost_vring_state")
    @FieldOrder({"index", "num"})
    public static final class VhostVringState extends Structure {
        public static final int SIZE = 8;
        public int index;
        public int num;

        public VhostVringState() {}

        public VhostVringState(int index, int num) {
            this.index = index;
            this.num = num;
        }
    }

    /** {@code struct vhost_vring_file}: a vring index and an fd (kick, call, err, backend). */
    @CExpr("struct vhost_vring_file")
    @FieldOrder({"index", "fd"})
    public static final class VhostVringFile extends Structure {
        public static final int SIZE = 8;
        public int index;
        public int fd;

        public VhostVringFile() {}

        public VhostVringFile(int index, int fd) {
            this.index = index;
            this.fd = fd;
        }
    }

    /** {@code struct vhost_vring_addr}: where a vring's parts are, as addresses of this process. */
    @CExpr("struct vhost_vring_addr")
    @FieldOrder({"index", "flags", "desc_user_addr", "used_user_addr", "avail_user_addr", "log_guest_addr"})
    public static final class VhostVringAddr extends Structure {
        public static final int SIZE = 40;
        public int index;
        public int flags;
        public long desc_user_addr;
        public long used_user_addr;
        public long avail_user_addr;
        public long log_guest_addr;
    }

    /** {@code struct vhost_memory_region}: one guest RAM region. */
    @CExpr("struct vhost_memory_region")
    @FieldOrder({"guest_phys_addr", "memory_size", "userspace_addr", "flags_padding"})
    public static final class VhostMemoryRegion extends Structure {
        public static final int SIZE = 32;
        public long guest_phys_addr;
        public long memory_size;
        public long userspace_addr;
        public long flags_padding;
    }

    /** {@code struct vhost_memory}: the header before {@code nregions} {@link VhostMemoryRegion}s. */
    @CExpr("struct vhost_memory")
    @FieldOrder({"nregions", "padding"})
    public static final class VhostMemory extends Structure {
        public static final int SIZE = 8;
        public int nregions;
        public int padding;
    }
}

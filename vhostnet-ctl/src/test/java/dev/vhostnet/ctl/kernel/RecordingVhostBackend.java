package dev.vhostnet.ctl.kernel;

import dev.vhostnet.ctl.NetDeviceConfig;
import dev.vhostnet.ctl.vhost.VringAddress;
import dev.vhostnet.eventfd.EventFd;
import dev.vhostnet.memtable.MemoryTable;
import dev.vhostnet.sys.Errno;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.tap.TapQueue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A fake vhost control plane that records each request in one shared log ("pair 0: SET_VRING_NUM
 * 1 256") and can be told to fail one of them with an errno, so the bring-up order and the
 * cleanup after a failure are tested without a kernel.
 */
final class RecordingVhostBackend implements VhostNetBackend {
    final List<String> log;
    final int pair;
    final long offer;
    private final String failOn;
    private final Map<Integer, Integer> bases = new ConcurrentHashMap<>();
    boolean closed;

    RecordingVhostBackend(List<String> log, int pair, long offer, String failOn) {
        this.log = log;
        this.pair = pair;
        this.offer = offer;
        this.failOn = failOn;
    }

    private void record(String request) throws SysException {
        String line = "pair " + pair + ": " + request;
        log.add(line);
        if (line.equals(failOn)) {
            throw new SysException("ioctl VHOST_" + request.split(" ")[0] + " on fake", Errno.EINVAL.number(), null);
        }
    }

    @Override
    public void setOwner() throws SysException {
        record("SET_OWNER");
    }

    @Override
    public void resetOwner() throws SysException {
        record("RESET_OWNER");
    }

    @Override
    public long getFeatures() throws SysException {
        record("GET_FEATURES");
        return offer;
    }

    @Override
    public void setFeatures(long features) throws SysException {
        record("SET_FEATURES 0x" + Long.toHexString(features));
    }

    @Override
    public long getBackendFeatures() throws SysException {
        record("GET_BACKEND_FEATURES");
        return 0;
    }

    @Override
    public void setBackendFeatures(long features) throws SysException {
        record("SET_BACKEND_FEATURES");
    }

    @Override
    public void setMemTable(MemoryTable memory) throws SysException {
        record("SET_MEM_TABLE " + memory.regions().size());
    }

    @Override
    public void setLogBase(long address) throws SysException {
        record("SET_LOG_BASE");
    }

    @Override
    public void setLogFd(EventFd fd) throws SysException {
        record("SET_LOG_FD");
    }

    @Override
    public void setVringNum(int index, int num) throws SysException {
        record("SET_VRING_NUM " + index + " " + num);
    }

    @Override
    public void setVringAddr(int index, VringAddress address) throws SysException {
        record("SET_VRING_ADDR " + index
                + (address.logged()
                        ? " log 0x" + Long.toHexString(address.logGuestAddress().getAsLong())
                        : ""));
    }

    @Override
    public void setVringBase(int index, int base) throws SysException {
        record("SET_VRING_BASE " + index + " " + base);
        bases.put(index, base);
    }

    @Override
    public int getVringBase(int index) throws SysException {
        record("GET_VRING_BASE " + index);
        return bases.getOrDefault(index, 0) + 7;
    }

    @Override
    public void setVringKick(int index, EventFd kick) throws SysException {
        record("SET_VRING_KICK " + index);
    }

    @Override
    public void setVringCall(int index, EventFd call) throws SysException {
        record("SET_VRING_CALL " + index);
    }

    @Override
    public void setVringErr(int index, EventFd err) throws SysException {
        record("SET_VRING_ERR " + index);
    }

    @Override
    public void setVringBusyloopTimeout(int index, int micros) throws SysException {
        record("SET_VRING_BUSYLOOP_TIMEOUT " + index + " " + micros);
    }

    @Override
    public int getVringBusyloopTimeout(int index) throws SysException {
        record("GET_VRING_BUSYLOOP_TIMEOUT " + index);
        return 0;
    }

    @Override
    public void setVringEndian(int index, boolean bigEndian) throws SysException {
        record("SET_VRING_ENDIAN " + index + (bigEndian ? " big" : " little"));
    }

    @Override
    public boolean getVringEndian(int index) throws SysException {
        record("GET_VRING_ENDIAN " + index);
        return false;
    }

    @Override
    public void setBackend(int index, TapQueue queue) throws SysException {
        record("NET_SET_BACKEND " + index + " tap");
    }

    @Override
    public void removeBackend(int index) throws SysException {
        record("NET_SET_BACKEND " + index + " detach");
    }

    @Override
    public void close() {
        log.add("pair " + pair + ": close");
        closed = true;
    }

    /** An opener handing out recording backends, pair by pair. */
    static final class Opener implements NetDeviceConfig.BackendOpener {
        final List<String> log = new ArrayList<>();
        final List<RecordingVhostBackend> opened = new ArrayList<>();
        private final long offer;
        private final String failOn;

        Opener(long offer, String failOn) {
            this.offer = offer;
            this.failOn = failOn;
        }

        @Override
        public VhostNetBackend open() {
            RecordingVhostBackend b = new RecordingVhostBackend(log, opened.size(), offer, failOn);
            opened.add(b);
            return b;
        }
    }
}

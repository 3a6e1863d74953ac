package dev.vhostnet.broker;

import com.google.common.collect.ImmutableMap;
import com.google.common.collect.ImmutableSet;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a {@link Broker} has done since it started, read at one moment ({@link Broker#counters()}):
 * the broker has no device of its own, so its status is its grants, refusals and leases.
 *
 * @param accepted connections accepted, refused ones included
 * @param granted taps handed out (each with its queue fds)
 * @param vhostFds vhost-net fds handed out with them
 * @param persistent granted taps that were persistent (left in place after the lease, in the ledger)
 * @param refused error replies sent, by code (a code not sent is not listed)
 * @param leased the taps leased to clients connected now
 */
public record BrokerCounters(
        long accepted,
        long granted,
        long vhostFds,
        long persistent,
        ImmutableMap<BrokerReply.Code, Long> refused,
        ImmutableSet<String> leased) {

    /** Every error reply, whatever its code. */
    public long refusals() {
        return refused.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The live counts a broker keeps; each written by whichever thread serves, read by anyone. */
    static final class Live {
        private final AtomicLong accepted = new AtomicLong();
        private final AtomicLong granted = new AtomicLong();
        private final AtomicLong vhostFds = new AtomicLong();
        private final AtomicLong persistent = new AtomicLong();
        private final Map<BrokerReply.Code, AtomicLong> refused = new EnumMap<>(BrokerReply.Code.class);

        Live() {
            for (BrokerReply.Code c : BrokerReply.Code.values()) {
                refused.put(c, new AtomicLong());
            }
        }

        void accepted() {
            accepted.incrementAndGet();
        }

        void granted(int vhostFdCount, boolean persistentTap) {
            granted.incrementAndGet();
            vhostFds.addAndGet(vhostFdCount);
            if (persistentTap) {
                persistent.incrementAndGet();
            }
        }

        void refused(BrokerReply.Code code) {
            refused.get(code).incrementAndGet();
        }

        BrokerCounters snapshot(ImmutableSet<String> leased) {
            ImmutableMap.Builder<BrokerReply.Code, Long> byCode = ImmutableMap.builder();
            refused.forEach((code, n) -> {
                if (n.get() > 0) {
                    byCode.put(code, n.get());
                }
            });
            return new BrokerCounters(
                    accepted.get(), granted.get(), vhostFds.get(), persistent.get(), byCode.build(), leased);
        }
    }
}

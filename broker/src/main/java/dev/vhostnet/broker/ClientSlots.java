package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * How many clients the broker serves at once (requests being read and leases held): at most
 * {@code total}, and at most {@code perUid} of one uid, so one user cannot take every slot.
 */
final class ClientSlots {
    private final int total;
    private final int perUid;
    private final Map<Long, Integer> byUid = new HashMap<>();
    private int taken;

    ClientSlots(int total, int perUid) {
        Preconditions.checkArgument(total >= 1 && perUid >= 1, "slots must be 1 or more");
        this.total = total;
        this.perUid = perUid;
    }

    /** Takes a slot for {@code uid}; or why not. */
    synchronized Optional<String> take(long uid) {
        int mine = byUid.getOrDefault(uid, 0);
        if (mine >= perUid) {
            return Optional.of("uid " + uid + " has " + mine
                    + " connection(s), the most one uid may have (--max-clients-per-uid): close one");
        }
        if (taken >= total) {
            return Optional.of("the broker serves as many clients as it may (--max-clients): try again");
        }
        byUid.put(uid, mine + 1);
        taken++;
        return Optional.empty();
    }

    /** Gives back a slot {@link #take} gave {@code uid}. */
    synchronized void give(long uid) {
        int mine = byUid.getOrDefault(uid, 0);
        Preconditions.checkState(mine > 0, "uid %s holds no slot", uid);
        if (mine == 1) {
            byUid.remove(uid);
        } else {
            byUid.put(uid, mine - 1);
        }
        taken--;
    }
}

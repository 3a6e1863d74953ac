package dev.vhostnet.sys;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The C expression a Java constant or struct mirrors: {@code "sizeof(struct vring_desc)"} on a
 * constant, {@code "struct vhost_vring_addr"} on a JNA {@code Structure}. The header layout test
 * compiles every such expression with gcc against the kernel headers and compares. Constants
 * without it in a {@code *Uapi} class are compared with the C macro of the same name.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.FIELD, ElementType.TYPE})
public @interface CExpr {
    String value();
}

package dev.litetf.bench;

import java.util.Locale;

/** Where LiteRT runs a model: XNNPACK (its default CPU delegate), its built-in CPU kernels
 *  without XNNPACK, or the GPU delegate. Written to the results as the constant's name. */
public enum Delegate {
    XNNPACK, CPU, GPU;

    public static Delegate parse(String text) {
        try {
            return valueOf(text.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "unknown delegate '" + text.trim() + "': expected xnnpack, cpu or gpu");
        }
    }
}

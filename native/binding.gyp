# nsguard native addon: node-addon-api over libbpf (Debian libbpf 1.1).
# Build through `pnpm --filter @nsguard/native build`, which passes --nodedir so node-gyp uses the
# local Node headers instead of downloading them (toolchain-findings §9).
{
  "targets": [
    {
      "target_name": "nsguard_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/bpf_object.cc",
        "src/maps.cc",
        "src/event_stream.cc",
        "src/decode.cc",
        "src/peer_credentials.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../bpf/include"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A batch can reach JS while a worker (vitest's, or any embedder's) is being torn down:
        # napi then refuses to throw, which node-addon-api turns into a fatal abort unless told
        # to swallow exceptions that cannot be thrown because the environment is going away.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}

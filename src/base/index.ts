// The bottom layer every feature shares: request memory (its scope, wiping, pools, process hygiene),
// HTTP problem responses, timers, the log schema, the runtime error registry, the native addon (its memory
// calls: explicit_bzero, mlock), and the node:crypto backends of the SDK's interfaces.
export { RequestScope, RequestScopeClosedError, type RequestScopeOptions, type Wiper } from './memory/requestScope.js';
export { wipe, wipeAndFree, free } from './memory/wipe.js';
export { BufferPool, type BufferPoolOptions } from './memory/bufferPool.js';
export { afterRequest, requestMajorCollection, hygieneStatus, HARDENED_NODE_FLAGS, HARDENED_GLIBC_TUNABLES, type HygieneStatus } from './memory/hygiene.js';
export { problem, sendProblem, PROBLEMS, type Problem, type ProblemCode } from './problems.js';
export { unrefTimer, MAX_TIMER_MS, type TimerHandle } from './timer.js';
export { createLogger, sizeClass } from './log.js';
export { nodeHpke, NodeHkdfSha256, NodeX25519Kem, NodeAead, rawPublicKey, importX25519PublicKey, x25519PrivateKey, keyScheduleContext } from './crypto/nodeHpke.js';
export { nodeEcdsa } from './crypto/nodeEcdsa.js';
export { nodeEd25519 } from './crypto/nodeEd25519.js';
export { cachedNodeEcdsa, cachedNodeEd25519, nodeVerifyBackends } from './crypto/nodeVerifyCrypto.js';
export { nodeRsaPss, rsaPublicKeyObject } from './crypto/nodeRsaPss.js';
export { hmacSha256 } from './crypto/hmac.js';
export { nodeHasher } from './crypto/nodeHasher.js';
export { loadNative, lock, unlock, isNativeErrnoError, ADDON_PATH, type CloisterNative, type NativeErrnoError, type PointerFixup } from './native.js';
export { RuntimeError, UsageError, TeeDeviceError, RUNTIME_ERROR_CODES, type RuntimeErrorCode } from './runtimeErrors.js';

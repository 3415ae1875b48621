/**
 * The real-runtime suites (#10), in one file so they run one after another: they share the
 * machine's runtime paths (/run/containerd, the image cache, the test user's subuid range)
 * and must not overlap. Each suite builds and tears down its own lab namespaces, runtime
 * daemon and imdswatch; see host.ts. Needs root and .ci/install-deps; under CI=true a
 * missing runtime fails.
 */
import './docker.suite.js';
import './podman.suite.js';
import './containerd.suite.js';
import './rootless.suite.js';
import './parallel.suite.js';

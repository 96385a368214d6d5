// The cluster recovery proof (proof.js) with the server the subscribers are on killed
// (SIGKILL) in the middle of the run: their sessions die with it, each comes back to the
// other server as a fresh session whose lobby history fills the gap, and every later cut
// is recovered as usual (issue 15).
'use strict';

require('./proof').proveRecovery(['cluster-kill']);

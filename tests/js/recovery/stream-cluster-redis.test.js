// The cluster recovery proof (proof.js) with Redis killed and started again, empty, in the
// middle of the run: local delivery goes on through the outage, and recoveries across
// servers work again once it is back (issue 15).
'use strict';

require('./proof').proveRecovery(['cluster-redis']);

// The recovery proof (proof.js) across a cluster: two rally-chat servers with
// --recovery all on one Redis (streams adapter), the proxy sending every reconnection to
// the other server (issue 15).
'use strict';

require('./proof').proveRecovery(['cluster']);

// The recovery proof (proof.js) against the test bed with --recovery.
'use strict';

require('./proof').proveRecovery(['testbed']);

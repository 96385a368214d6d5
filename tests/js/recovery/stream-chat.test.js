// The recovery proof (proof.js) against rally-chat with --recovery all.
'use strict';

require('./proof').proveRecovery(['chat']);

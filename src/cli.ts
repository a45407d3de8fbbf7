#!/usr/bin/env node
// placeholder: replaced by the real CLI in the next commit
console.log('kubespray-validate');

// Sign-in landing page: send each role to its home page.
'use strict';
(async () => {
  CA.initChrome();
  const user = await CA.requireUser();
  const home = { agent: '/agent', supervisor: '/supervisor', qa: '/qa' }[user.role] || '/agent';
  location.replace(home);
})();

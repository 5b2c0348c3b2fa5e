// Sign-in landing page: send each role to its home page.
import { HOME, initChrome, requireUser } from './common.js';

initChrome();
const user = await requireUser();
location.replace(HOME[user.role] || '/agent');

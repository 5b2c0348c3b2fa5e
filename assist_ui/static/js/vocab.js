// The one source of the pages' vocabularies and their order: roles, what each may open, and
// severities (the same order as the wire contract: streams/contract/vocab.py SEVERITIES).

export const ROLES = ['agent', 'supervisor', 'qa'];
// who may open the QA pages (list, call review, KB report)
export const QA_READERS = ['qa', 'supervisor'];
// the header's links, each for the roles that may use the page
export const NAV = [
  { href: '/agent', key: 'nav_agent', roles: ['agent', 'supervisor', 'qa'] },
  { href: '/supervisor', key: 'nav_supervisor', roles: ['supervisor'] },
  { href: '/qa', key: 'nav_qa', roles: QA_READERS },
];
export const HOME = { agent: '/agent', supervisor: '/supervisor', qa: '/qa' };

// most severe first (how lists, counts and filters show them)
export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const SEV_RANK = { low: 1, medium: 2, high: 3, critical: 4 };

export function sevRank(s) { return SEV_RANK[s] || 0; }
// the severity of a rank (1..4, as the QA store's max_severity), '' for none
export function severityOfRank(n) { return SEVERITIES[SEVERITIES.length - n] || ''; }
// sort comparator: most severe first
export function bySeverity(a, b) { return sevRank(b.severity) - sevRank(a.severity); }
// the worst severity among items with a .severity ('' for none)
export function worstSeverity(items) {
  return items.reduce((w, a) => (sevRank(a.severity) > sevRank(w) ? a.severity : w), '');
}

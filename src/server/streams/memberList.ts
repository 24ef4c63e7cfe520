/**
 * A stream's members on this instance: an array (what the transport and the hub read), with an index from
 * member to position once it is long. A channel with thousands of subscribers then takes a join or a leave
 * in constant time, where a scan (`includes`, `indexOf` and `splice`) grew with the members on every one of
 * them; an inbox, a handful of connections, keeps the plain array and no map.
 */
export interface MemberList<M> {
  members: M[]
  /** member → its position in `members`; null while the list is short. */
  index: Map<M, number> | null
}

/** From this many members on, the list is indexed; below half of it, the index goes again. */
export const INDEX_FROM = 64

export function hasMember<M>(list: MemberList<M>, member: M): boolean {
  return list.index ? list.index.has(member) : list.members.includes(member)
}

/** Adds a member that is not in the list yet (the caller checked with hasMember). */
export function addMember<M>(list: MemberList<M>, member: M): void {
  list.members.push(member)
  if (list.index) list.index.set(member, list.members.length - 1)
  else if (list.members.length >= INDEX_FROM)
    list.index = new Map(list.members.map((m, position) => [m, position]))
}

/**
 * Removes a member; false when it was not there. An indexed list moves its last member into the gap, so
 * order is kept only while the list is short: nothing reads a stream's members in order.
 */
export function removeMember<M>(list: MemberList<M>, member: M): boolean {
  if (!list.index) {
    const position = list.members.indexOf(member)
    if (position < 0) return false
    list.members.splice(position, 1)
    return true
  }
  const position = list.index.get(member)
  if (position === undefined) return false
  list.index.delete(member)
  const last = list.members.pop()!
  if (last !== member) {
    list.members[position] = last
    list.index.set(last, position)
  }
  if (list.members.length < INDEX_FROM / 2) list.index = null
  return true
}

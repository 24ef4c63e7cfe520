import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { addMember, hasMember, INDEX_FROM, type MemberList, removeMember } from './memberList'

// The member list against a plain Set, through joins and leaves that cross the indexing threshold both ways.

const check = (list: MemberList<number>, model: Set<number>) => {
  expect(new Set(list.members)).toEqual(model)
  expect(list.members.length).toBe(model.size)
  if (list.index) {
    expect(list.index.size).toBe(model.size)
    for (const [position, member] of list.members.entries()) expect(list.index.get(member)).toBe(position)
  }
}

describe('member list', () => {
  test('indexed from INDEX_FROM members on, plain again below half of it', () => {
    const list: MemberList<number> = { members: [], index: null }
    for (let i = 0; i < INDEX_FROM - 1; i++) addMember(list, i)
    expect(list.index).toBeNull()
    addMember(list, INDEX_FROM - 1)
    expect(list.index?.size).toBe(INDEX_FROM)
    for (let i = 0; i <= INDEX_FROM / 2; i++) expect(removeMember(list, i)).toBe(true)
    expect(list.index).toBeNull()
    check(list, new Set(Array.from({ length: INDEX_FROM / 2 - 1 }, (_, i) => INDEX_FROM / 2 + 1 + i)))
  })

  test('a short list keeps its order; removing a member that is not there changes nothing', () => {
    const list: MemberList<number> = { members: [], index: null }
    for (const m of [5, 3, 9, 1]) addMember(list, m)
    expect(removeMember(list, 3)).toBe(true)
    expect(removeMember(list, 3)).toBe(false)
    expect(list.members).toEqual([5, 9, 1])
  })

  test('any sequence of joins and leaves agrees with a set', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 * INDEX_FROM })), {
          minLength: 300,
          maxLength: 1000,
        }),
        (steps) => {
          const list: MemberList<number> = { members: [], index: null }
          const model = new Set<number>()
          // Indexed from the start: the steps then cross the threshold downward and, often, up again.
          const start = Array.from({ length: INDEX_FROM + 8 }, (_, i) => [true, i] as const)
          for (const [join, member] of [...start, ...steps]) {
            expect(hasMember(list, member)).toBe(model.has(member))
            if (join) {
              if (!hasMember(list, member)) addMember(list, member)
              model.add(member)
            } else expect(removeMember(list, member)).toBe(model.delete(member))
          }
          check(list, model)
        },
      ),
      { numRuns: 50 },
    )
  })
})

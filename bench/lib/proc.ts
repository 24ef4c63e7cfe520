import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'

/** Resident set size of a process in KiB, from /proc/<pid>/status. */
export function readRssKiB(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)\s+kB$/m)
  if (!match) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1])
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may contain spaces and parentheses: fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime are fields 14 and 15 of the whole line, i.e. 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** Clock ticks of the whole machine (every core), from /proc/stat. */
function readMachineTicks(): { busy: number; interrupts: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!
  // cpu user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  return { busy: total - ticks[3]! - ticks[4]!, interrupts: ticks[5]! + ticks[6]!, total }
}

export interface CpuMeter {
  /**
   * Percent of one core (100 = one full core) used since the meter started by each process; `kernel`, the
   * time in interrupt handling (mostly loopback TCP in softirqs; part of it is also in the processes' own
   * time); `others`, a lower bound for every other process (PostgreSQL, anything else running): busy time
   * minus the processes and the interrupts; `machine`, the percent of all cores that were busy.
   */
  stop(): Record<string, number>
}

export function startCpuMeter(pids: Record<string, number>): CpuMeter {
  const started = performance.now()
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, readCpuSeconds(pid)]))
  const machineBefore = readMachineTicks()
  return {
    stop() {
      const seconds = (performance.now() - started) / 1000
      const machine = readMachineTicks()
      const perProcess = Object.fromEntries(
        Object.entries(pids).map(([name, pid]) => [
          name,
          Math.round(((readCpuSeconds(pid) - before[name]!) / seconds) * 100),
        ]),
      )
      const total = Math.max(1, machine.total - machineBefore.total)
      const cores = cpus().length
      // Ticks of all cores → percent of one core.
      const corePercent = (ticks: number) => Math.round((ticks / total) * cores * 100)
      const busy = corePercent(machine.busy - machineBefore.busy)
      const kernel = corePercent(machine.interrupts - machineBefore.interrupts)
      const mine = Object.values(perProcess).reduce((a, b) => a + b, 0)
      return {
        ...perProcess,
        kernel,
        others: Math.max(0, busy - kernel - mine),
        machine: Math.round(busy / cores),
      }
    },
  }
}

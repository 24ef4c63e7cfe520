import { configRequirements, configVariables } from './variables'

/**
 * The README's configuration table, one row per declared variable, its columns padded the way a Markdown
 * formatter pads them so that formatting the README leaves it unchanged.
 */
export function configTable(): string[] {
  const header = ['variable', 'default', 'accepts', 'meaning']
  const rows = configVariables.map((declaration) => {
    const requirements = configRequirements
      .filter((requirement) => requirement.variable === declaration.name)
      .map((requirement) => `; required when ${requirement.when}`)
    return [
      `\`${declaration.name}\``,
      'default' in declaration ? defaultCell(declaration.default) : `(${declaration.unset})`,
      declaration.kind.accepts,
      declaration.doc + requirements.join(''),
    ]
  })
  for (const cell of rows.flat())
    if (cell.includes('|')) throw new Error(`A configuration table cell cannot hold "|": ${cell}`)
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column]!.length)))
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)]
}

/** A list default as code, so patterns in it (`*.push.apple.com`) never read as Markdown emphasis. */
const defaultCell = (value: unknown) => (Array.isArray(value) ? `\`${value.join(',')}\`` : String(value))

/** The lines of `readme`'s configuration table (the one whose header starts `| variable |`) and where they are. */
export function findConfigTable(readme: string): { lines: string[]; start: number; end: number } {
  const lines = readme.split('\n')
  const start = lines.findIndex((line) => /^\|\s*variable\s*\|/.test(line))
  if (start < 0)
    throw new Error('The README has no configuration table (a table whose header starts "| variable |").')
  let end = start
  while (end < lines.length && lines[end]!.startsWith('|')) end++
  return { lines, start, end }
}

/** `readme` with its configuration table rewritten from the declarations. */
export function withConfigTable(readme: string): string {
  const { lines, start, end } = findConfigTable(readme)
  lines.splice(start, end - start, ...configTable())
  return lines.join('\n')
}

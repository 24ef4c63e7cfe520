/** A colour pair derived from the address, so accounts are told apart at a glance. */
export function AddressAvatar({ address, size = 28 }: { address: string; size?: number }) {
  const seed = Number.parseInt(address.slice(2, 10), 16) || 0
  const hue = seed % 360
  const hue2 = (hue + 60 + ((seed >> 9) % 120)) % 360
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{
        width: size,
        height: size,
        background: `linear-gradient(135deg, hsl(${hue} 75% 60%), hsl(${hue2} 70% 45%))`,
      }}
    />
  )
}

import type { ReactNode } from 'react'
import { Logo } from './Logo'

export function AppHeader({ children }: { children?: ReactNode }) {
  return (
    <header className="app-header">
      <div className="app-header__inner">
        <a className="brand" href="/" aria-label="Herald home">
          <Logo />
          <span className="brand__name">Herald</span>
        </a>
        {children && <div className="app-header__right">{children}</div>}
      </div>
    </header>
  )
}

import { createContext } from 'react'
import type { HeraldClient } from '../sdk'

/** The one client of a <HeraldProvider>; internal: read it with useHeraldClient(). */
export const HeraldContext = createContext<HeraldClient | null>(null)

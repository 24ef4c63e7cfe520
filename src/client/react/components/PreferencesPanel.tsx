import { usePreferences } from '../usePreferences'

/** Readable words for a type: `token_deployed` → "Token deployed". */
const typeLabel = (type: string) => {
  const words = type.replace(/[_.-]+/g, ' ').trim()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/**
 * Per-type choices for the types the user has received: in the app (off: not stored, not shown) and as a
 * push when away. Every tab follows a change.
 */
export function PreferencesPanel() {
  const { preferences, types, setPreference, loading, error } = usePreferences()
  if (loading && !preferences)
    return (
      <p className="herald-center__status" role="status">
        Loading preferences…
      </p>
    )
  return (
    <div className="herald-prefs" data-testid="notification-preferences">
      {error && (
        <p className="herald-center__error" role="alert">
          Could not save preferences: {error}
        </p>
      )}
      {types.length === 0 ? (
        <p className="herald-center__status">Types you receive will be listed here.</p>
      ) : (
        <table className="herald-prefs__table">
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">In app</th>
              <th scope="col">Push</th>
            </tr>
          </thead>
          <tbody>
            {types.map((type) => {
              const choice = preferences?.types[type] ?? preferences?.default ?? { inApp: true, push: true }
              return (
                <tr key={type} data-testid="notification-preference" data-type={type}>
                  <th scope="row">{typeLabel(type)}</th>
                  {(['inApp', 'push'] as const).map((channel) => (
                    <td key={channel}>
                      <input
                        type="checkbox"
                        checked={choice[channel]}
                        aria-label={`${typeLabel(type)}: ${channel === 'inApp' ? 'in the app' : 'push when away'}`}
                        onChange={(event) => void setPreference(type, channel, event.currentTarget.checked)}
                        data-testid={`notification-preference-${channel}`}
                      />
                    </td>
                  ))}
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
      <p className="herald-prefs__note">
        Turned off in the app: not stored and not shown. Critical notifications always arrive.
      </p>
    </div>
  )
}

package phlotest

import "time"

// WithWriteTimeout replaces WriteTimeout, so that a test of it need not
// wait a minute.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) error {
		c.writeTimeout = d
		return nil
	}
}

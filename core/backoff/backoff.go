package backoff

import (
	"fmt"
	"math"
	"time"
)

// Strategy names how the delay grows with the number of attempts.
type Strategy string

// The supported strategies.
const (
	Exponential Strategy = "exponential" // base · multiplier^attempts
	Linear      Strategy = "linear"      // base · attempts
	Fixed       Strategy = "fixed"       // base
)

// Policy is the retry backoff rule. All durations are in seconds so the same numbers
// can be stored in PostgreSQL unchanged.
type Policy struct {
	Strategy    Strategy `json:"strategy"`
	BaseSeconds float64  `json:"base_seconds"`
	Multiplier  float64  `json:"multiplier"`
	CapSeconds  float64  `json:"cap_seconds"`
	// Jitter is the fraction (0..1) by which a delay may be shortened. The
	// shortening is a deterministic function of the step id and attempt number,
	// so Go and SQL agree on every step's next retry time while retries of
	// different steps still spread out.
	Jitter float64 `json:"jitter"`
}

// Default values of the policy; configuration documents and may override them.
const (
	DefaultStrategy    = Exponential
	DefaultBaseSeconds = 1.0
	DefaultMultiplier  = 2.0
	DefaultCapSeconds  = 300.0
	DefaultJitter      = 0.0
)

// Default returns the built-in policy: 1 s · 2^attempts, capped at 300 s, no jitter.
func Default() Policy {
	return Policy{
		Strategy:    DefaultStrategy,
		BaseSeconds: DefaultBaseSeconds,
		Multiplier:  DefaultMultiplier,
		CapSeconds:  DefaultCapSeconds,
		Jitter:      DefaultJitter,
	}
}

// Validate reports the first out-of-range parameter.
func (p Policy) Validate() error {
	switch p.Strategy {
	case Exponential, Linear, Fixed:
	default:
		return fmt.Errorf("backoff strategy %q: want exponential, linear or fixed", p.Strategy)
	}
	switch {
	case !(p.BaseSeconds >= 0) || math.IsInf(p.BaseSeconds, 0):
		return fmt.Errorf("backoff base_seconds %v: want a finite number >= 0", p.BaseSeconds)
	case !(p.Multiplier >= 1) || math.IsInf(p.Multiplier, 0):
		return fmt.Errorf("backoff multiplier %v: want a finite number >= 1", p.Multiplier)
	case !(p.CapSeconds >= 0) || math.IsInf(p.CapSeconds, 0):
		return fmt.Errorf("backoff cap_seconds %v: want a finite number >= 0", p.CapSeconds)
	case !(p.Jitter >= 0 && p.Jitter <= 1):
		return fmt.Errorf("backoff jitter %v: want a fraction between 0 and 1", p.Jitter)
	}
	return nil
}

// jitterModulus and the two multipliers define the deterministic jitter fraction.
// They are mirrored in tasker_backoff_seconds; changing one side without the other
// fails TestDelayMatchesSQL.
const (
	jitterModulus  = 10007
	jitterStepMul  = 7919
	jitterTryMul   = 104729
	jitterStepWrap = 9973
)

// JitterFraction returns the deterministic fraction in [0,1) used for step stepID
// at the given attempt count.
func JitterFraction(stepID int64, attempts int) float64 {
	s := stepID % jitterStepWrap
	if s < 0 {
		s += jitterStepWrap
	}
	a := int64(attempts) % jitterModulus
	if a < 0 {
		a += jitterModulus
	}
	return float64((s*jitterStepMul+a*jitterTryMul)%jitterModulus) / jitterModulus
}

// Seconds returns the delay, in seconds, after the attempts-th failed attempt of
// step stepID. attempts below 1 are treated as 1.
func (p Policy) Seconds(stepID int64, attempts int) float64 {
	if attempts < 1 {
		attempts = 1
	}
	var raw float64
	switch p.Strategy {
	case Linear:
		raw = p.BaseSeconds * float64(attempts)
	case Fixed:
		raw = p.BaseSeconds
	default:
		if p.BaseSeconds > 0 { // 0 × +Inf (a power past float64's range) would be NaN
			raw = p.BaseSeconds * math.Pow(p.Multiplier, float64(attempts))
		}
	}
	d := math.Min(raw, p.CapSeconds)
	return d * (1 - p.Jitter*JitterFraction(stepID, attempts))
}

// Delay is Seconds as a time.Duration (microsecond precision, as PostgreSQL keeps).
func (p Policy) Delay(stepID int64, attempts int) time.Duration {
	return SecondsToDuration(p.Seconds(stepID, attempts))
}

// SecondsToDuration converts seconds to a Duration rounded to the microsecond, the
// resolution of PostgreSQL timestamps.
func SecondsToDuration(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}

// NextRetryAt returns when a failed step may next run. An explicit server-requested
// backoff (backoff_request_seconds) wins over the policy, counted from the later of
// the last attempt and the last failure, so "retry after N seconds" is never honoured
// early; otherwise the policy's delay counts from the last failure. ok is false when
// neither applies (the step never failed and asked for no backoff).
func (p Policy) NextRetryAt(stepID int64, attempts int, lastFailureAt, lastAttemptedAt *time.Time, backoffRequestSeconds *int) (at time.Time, ok bool) {
	if backoffRequestSeconds != nil && (lastAttemptedAt != nil || lastFailureAt != nil) {
		from := lastAttemptedAt
		if from == nil || (lastFailureAt != nil && lastFailureAt.After(*from)) {
			from = lastFailureAt
		}
		return from.Add(time.Duration(*backoffRequestSeconds) * time.Second), true
	}
	if lastFailureAt != nil {
		return lastFailureAt.Add(p.Delay(stepID, attempts)), true
	}
	return time.Time{}, false
}

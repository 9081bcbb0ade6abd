import HubDomain
import Testing

@Suite struct CounterStepTests {
    @Test func advanceRolloverResetImplausible() {
        #expect(CounterStep.classify(previous: 100, current: 150, spanMs: 1000, modulusWh: nil, maxPlausiblePowerW: nil) == .advance(deltaWh: 50))
        // acc32 in units of 10 Wh: modulus 2^32 × 10. 42_949_672_900 → 30 wraps by 60 Wh.
        let modulus = 4_294_967_296.0 * 10
        #expect(
            CounterStep.classify(previous: modulus - 30, current: 30, spanMs: 10_000, modulusWh: modulus, maxPlausiblePowerW: nil)
                == .rollover(deltaWh: 60))
        // A drop far from the modulus is a reset, with or without a modulus.
        #expect(CounterStep.classify(previous: 5000, current: 3, spanMs: 1000, modulusWh: nil, maxPlausiblePowerW: nil) == .reset)
        #expect(CounterStep.classify(previous: 5000, current: 3, spanMs: 1000, modulusWh: modulus, maxPlausiblePowerW: nil) == .reset)
        // 10 kW device: in 60 s at most 1.5 × 10 000 × 60/3600 = 250 Wh is plausible.
        #expect(CounterStep.classify(previous: 0, current: 240, spanMs: 1000, modulusWh: nil, maxPlausiblePowerW: 10_000) == .advance(deltaWh: 240))
        #expect(
            CounterStep.classify(previous: 0, current: 1_000_000, spanMs: 1000, modulusWh: nil, maxPlausiblePowerW: 10_000)
                == .implausible(deltaWh: 1_000_000))
    }
}

/* test_loss_scale.c - the dynamic loss scale: an overflow skips the step
 * and halves the scale, WINDOW clean steps in a row double it, an overflow
 * restarts the window, the floor holds, and a disabled scaler stays 1. */
#include "train/loss_scale.h"
#include "test.h"

int main(void)
{
    dlt__loss_scale s;
    dlt__loss_scale_init(&s, 1, 0, 0);
    ASSERT_NEAR(s.scale, 65536, 0, "default initial scale 2^16");
    ASSERT_EQ(s.window, 2000, "default window 2000 steps");
    dlt__loss_scale_init(&s, 1, 1024, 3);
    ASSERT_EQ(dlt__loss_scale_update(&s, 0), 1, "overflow: skip the step");
    ASSERT_NEAR(s.scale, 512, 0, "overflow: scale halved");
    ASSERT_EQ(s.skipped, 1, "overflow: counted");
    ASSERT_EQ(dlt__loss_scale_update(&s, 1), 0, "clean step 1: applied");
    ASSERT_EQ(dlt__loss_scale_update(&s, 1), 0, "clean step 2: applied");
    ASSERT_NEAR(s.scale, 512, 0, "2 clean steps < window 3: unchanged");
    ASSERT_EQ(s.good_steps, 2, "2 clean steps counted");
    ASSERT_EQ(dlt__loss_scale_update(&s, 0), 1, "overflow in the window: skipped");
    ASSERT_EQ(s.good_steps, 0, "overflow restarts the window");
    ASSERT_NEAR(s.scale, 256, 0, "and halves again");
    for (int i = 0; i < 3; i++)
        dlt__loss_scale_update(&s, 1);
    ASSERT_NEAR(s.scale, 512, 0, "3 clean steps in a row: scale doubled");
    ASSERT_EQ(s.good_steps, 0, "window restarts after growing");
    for (int i = 0; i < 40; i++)
        dlt__loss_scale_update(&s, 0);
    ASSERT_NEAR(s.scale, 1, 0, "40 overflows in a row: the scale stops at the floor 1");
    ASSERT_EQ(s.skipped, 42, "every overflow counted");
    dlt__loss_scale_init(&s, 0, 1024, 3);
    ASSERT_NEAR(s.scale, 1, 0, "disabled (fp32, tf32, bf16): scale 1");
    ASSERT_EQ(dlt__loss_scale_update(&s, 1), 0, "disabled: a clean step is applied");
    ASSERT_EQ(dlt__loss_scale_update(&s, 0), 1, "disabled: non-finite gradients are reported, not counted");
    ASSERT_NEAR(s.scale, 1, 0, "disabled: the scale never moves");
    TEST_DONE();
}

namespace MeatLizard.Api.Tests.Support;

/// <summary>A value read again and again until it is what a test waits for, or the test fails saying what did not happen.</summary>
public static class Polled
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, string failure, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), failure);
            await Task.Delay(100);
        }
    }
}

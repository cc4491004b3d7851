using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using MeatLizard.Infrastructure.ObjectStorage;
using Microsoft.Extensions.Options;

namespace MeatLizard.Infrastructure.Doctor;

/// <summary>The S3 bucket is there and these credentials may list it.</summary>
public sealed class S3DoctorCheck(IOptions<S3ObjectStoreOptions> options) : IDoctorCheck
{
    private const string Check = "s3";

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(CancellationToken cancellationToken)
    {
        var s3 = options.Value;
        var config = S3ObjectStore.CreateConfig(s3);
        config.MaxErrorRetry = 0;
        config.Timeout = TimeSpan.FromSeconds(10);
        var where = $"bucket '{s3.Bucket}' at {s3.ServiceUrl ?? $"AWS {s3.Region}"}";
        using var client = new AmazonS3Client(new BasicAWSCredentials(s3.AccessKey, s3.SecretKey), config);
        try
        {
            await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket, MaxKeys = 1 }, cancellationToken);
            return [DoctorResult.Pass(Check, $"{where} reachable")];
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket")
        {
            return s3.CreateBucket
                ? [DoctorResult.Pass(Check, $"{where} does not exist yet; created at the first write (ObjectStore:S3:CreateBucket)")]
                : [DoctorResult.Fail(Check, $"{where} does not exist",
                    "create it, or set ObjectStore:S3:CreateBucket=true, or fix ObjectStore:S3:Bucket")];
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
        {
            return [DoctorResult.Fail(Check, $"{where} refused these credentials ({ex.ErrorCode})",
                "fix ObjectStore:S3:AccessKey and ObjectStore:S3:SecretKey, or the bucket's policy")];
        }
        catch (AmazonS3Exception ex)
        {
            return [DoctorResult.Fail(Check, $"{where}: {ex.ErrorCode} (HTTP {(int)ex.StatusCode})", "check the S3 server and ObjectStore:S3:*")];
        }
        catch (Exception ex) when (ex is HttpRequestException or AmazonServiceException or AmazonClientException or IOException)
        {
            return [DoctorResult.Fail(Check, $"cannot reach {where}: {Innermost(ex).Message}",
                "start the S3 server or fix ObjectStore:S3:ServiceUrl")];
        }
    }

    private static Exception Innermost(Exception ex) => ex.InnerException is { } inner ? Innermost(inner) : ex;
}

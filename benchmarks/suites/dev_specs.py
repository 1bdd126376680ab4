"""What build_dev.py adds to each LeetCodeDataset problem: a naive starting solution and a workload.

One entry per task: the LeetCodeDataset `task_id`, the kind of inefficiency of the naive code
(asymptotic | constant-factor | memory), `naive` (same class and method as the reference, correct but
slow for a stated reason), `generate` (source of generate(n, seed) -> (args, kwargs), inputs within the
problem's constraints, noted in a comment), `sizes` (n at which the naive code takes roughly 50-500 ms a
call on the development machine) and `small` (n for the extra test cases, whose expected answers come
from the reference solution).
"""

SPECS = [
    dict(
        id="two-sum",
        kind="asymptotic",
        why="tries every pair of indices: O(n^2)",
        naive="""
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                if nums[i] + nums[j] == target:
                    return [i, j]
        return []
""",
        generate="""
import random


def generate(n, seed):
    # 2 <= n <= 10^4, |nums[i]|, |target| <= 10^9, exactly one solution: every other number is a
    # multiple of 4, the planted pair is 1 and 2 (mod 4), so only it sums to target (3 mod 4).
    rng = random.Random(seed)
    nums = [4 * x for x in rng.sample(range(-(2 * 10**8), 2 * 10**8), n - 2)]
    a = 4 * rng.randrange(-(10**8), 10**8) + 1
    b = 4 * rng.randrange(-(10**8), 10**8) + 2
    i = rng.randrange(max(0, n // 2 - 1), n - 1)
    j = rng.randrange(i + 1, n)
    nums.insert(i, a)
    nums.insert(j, b)
    return (), {"nums": nums, "target": a + b}
""",
        sizes=[3000],
        small=[2, 3, 4, 7, 12],
    ),
    dict(
        id="contains-duplicate",
        kind="asymptotic",
        why="compares every pair: O(n^2)",
        naive="""
class Solution:
    def containsDuplicate(self, nums: List[int]) -> bool:
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                if nums[i] == nums[j]:
                    return True
        return False
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, |nums[i]| <= 10^9; distinct values, and for odd seeds one repeat at the end
    rng = random.Random(seed)
    nums = rng.sample(range(-(10**9), 10**9), n)
    if seed % 2 and n > 1:
        nums[-1] = nums[rng.randrange(n - 1)]
    return (), {"nums": nums}
""",
        sizes=[3000],
        small=[1, 2, 3, 5, 9],
    ),
    dict(
        id="best-time-to-buy-and-sell-stock",
        kind="asymptotic",
        why="tries every buy day against every later sell day: O(n^2)",
        naive="""
class Solution:
    def maxProfit(self, prices: List[int]) -> int:
        best = 0
        for i in range(len(prices)):
            for j in range(i + 1, len(prices)):
                if prices[j] - prices[i] > best:
                    best = prices[j] - prices[i]
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, 0 <= prices[i] <= 10^4
    rng = random.Random(seed)
    return (), {"prices": [rng.randint(0, 10**4) for _ in range(n)]}
""",
        sizes=[3000],
        small=[1, 2, 3, 6, 10],
    ),
    dict(
        id="majority-element",
        kind="asymptotic",
        why="counts the whole list again for every element until the majority turns up: O(n^2)",
        naive="""
class Solution:
    def majorityElement(self, nums: List[int]) -> int:
        for x in nums:
            if nums.count(x) > len(nums) // 2:
                return x
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 5 * 10^4, |nums[i]| <= 10^9, the majority element exists; the minority values come
    # first (as in a log where the common value takes over later)
    rng = random.Random(seed)
    majority = rng.randint(-(10**9), 10**9)
    k = n // 2 + 1
    others = [rng.randint(-(10**9), 10**9) for _ in range(n - k)]
    stand_in = majority - 1 if majority > 0 else majority + 1  # stays within [-10^9, 10^9]
    others = [x if x != majority else stand_in for x in others]
    tail = [majority] * k
    return (), {"nums": others + tail}
""",
        sizes=[8000],
        small=[1, 2, 3, 5, 8],
    ),
    dict(
        id="single-number",
        kind="asymptotic",
        why="counts the whole list for each element: O(n^2)",
        naive="""
class Solution:
    def singleNumber(self, nums: List[int]) -> int:
        for x in nums:
            if nums.count(x) == 1:
                return x
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(nums) <= 3 * 10^4, |nums[i]| <= 3 * 10^4, every element twice except one
    rng = random.Random(seed)
    m = min(n // 2, 14999)
    values = rng.sample(range(-30000, 30001), m + 1)
    single = values.pop()
    nums = values + values
    rng.shuffle(nums)
    nums.insert(rng.randrange(len(nums) // 2, len(nums) + 1), single)
    return (), {"nums": nums}
""",
        sizes=[6000],
        small=[1, 3, 5, 7, 11],
    ),
    dict(
        id="missing-number",
        kind="asymptotic",
        why="a list membership test per candidate number: O(n^2)",
        naive="""
class Solution:
    def missingNumber(self, nums: List[int]) -> int:
        for i in range(len(nums) + 1):
            if i not in nums:
                return i
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^4, n distinct numbers from [0, n], one missing
    rng = random.Random(seed)
    missing = rng.randrange(n // 2, n + 1)
    nums = [x for x in range(n + 1) if x != missing]
    rng.shuffle(nums)
    return (), {"nums": nums}
""",
        sizes=[10000],
        small=[1, 2, 3, 6, 10],
    ),
    dict(
        id="climbing-stairs",
        kind="asymptotic",
        why="plain recursion recomputes the same subproblems: exponential",
        naive="""
class Solution:
    def climbStairs(self, n: int) -> int:
        if n <= 2:
            return n
        return self.climbStairs(n - 1) + self.climbStairs(n - 2)
""",
        generate="""
def generate(n, seed):
    # 1 <= n <= 45
    return (), {"n": n}
""",
        sizes=[31],
        small=[1, 2, 4, 5, 10],
    ),
    dict(
        id="fibonacci-number",
        kind="asymptotic",
        why="the textbook recursion recomputes the same values: exponential",
        naive="""
class Solution:
    def fib(self, n: int) -> int:
        if n < 2:
            return n
        return self.fib(n - 1) + self.fib(n - 2)
""",
        generate="""
def generate(n, seed):
    # 0 <= n <= 30
    return (), {"n": n}
""",
        sizes=[30],
        small=[0, 1, 5, 9, 15],
    ),
    dict(
        id="first-unique-character-in-a-string",
        kind="asymptotic",
        why="counts the whole string for every position: O(n^2)",
        naive="""
class Solution:
    def firstUniqChar(self, s: str) -> int:
        for i, c in enumerate(s):
            if s.count(c) == 1:
                return i
        return -1
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 10^5, lowercase letters; 'z' (at most once) late in the string, for even seeds
    rng = random.Random(seed)
    s = [rng.choice("abcdefghijklmnopqrstuvwxy") for _ in range(n - 1 if seed % 2 == 0 else n)]
    if seed % 2 == 0:
        s.insert(rng.randrange(len(s) * 3 // 4, len(s) + 1), "z")
    return (), {"s": "".join(s)}
""",
        sizes=[20000],
        small=[1, 30, 60, 100, 200],
    ),
    dict(
        id="find-all-numbers-disappeared-in-an-array",
        kind="asymptotic",
        why="a list membership test for each of 1..n: O(n^2)",
        naive="""
class Solution:
    def findDisappearedNumbers(self, nums: List[int]) -> List[int]:
        missing = []
        for x in range(1, len(nums) + 1):
            if x not in nums:
                missing.append(x)
        return missing
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, 1 <= nums[i] <= n
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(1, n) for _ in range(n)]}
""",
        sizes=[6000],
        small=[1, 2, 4, 7, 10],
    ),
    dict(
        id="maximum-subarray",
        kind="asymptotic",
        why="sums every subarray from every start: O(n^2)",
        naive="""
class Solution:
    def maxSubArray(self, nums: List[int]) -> int:
        best = nums[0]
        for i in range(len(nums)):
            total = 0
            for j in range(i, len(nums)):
                total += nums[j]
                if total > best:
                    best = total
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, |nums[i]| <= 10^4
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(10**4), 10**4) for _ in range(n)]}
""",
        sizes=[3000],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="maximum-average-subarray-i",
        kind="asymptotic",
        why="slices and sums every window from scratch: O(n*k)",
        naive="""
class Solution:
    def findMaxAverage(self, nums: List[int], k: int) -> float:
        best = None
        for i in range(len(nums) - k + 1):
            average = sum(nums[i : i + k]) / k
            if best is None or average > best:
                best = average
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= k <= n <= 10^5, |nums[i]| <= 10^4
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(10**4), 10**4) for _ in range(n)], "k": max(1, n // 3)}
""",
        sizes=[16000],
        small=[1, 2, 4, 7, 11],
    ),
    dict(
        id="find-pivot-index",
        kind="asymptotic",
        why="re-sums both sides (two fresh slices) for every index: O(n^2) time and copying",
        naive="""
class Solution:
    def pivotIndex(self, nums: List[int]) -> int:
        for i in range(len(nums)):
            if sum(nums[:i]) == sum(nums[i + 1 :]):
                return i
        return -1
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^4, |nums[i]| <= 1000; for even seeds a pivot is planted in the second half (right side adjusted)
    rng = random.Random(seed)
    nums = [rng.randint(-1000, 1000) for _ in range(n)]
    if seed % 2 == 0 and n >= 3:
        p = rng.randrange(n // 2, n - 1)
        diff = sum(nums[:p]) - sum(nums[p + 1 :])
        for i in range(n - 1, p, -1):  # move the right side's elements (within bounds) to balance
            step = max(-1000 - nums[i], min(1000 - nums[i], diff))
            nums[i] += step
            diff -= step
    return (), {"nums": nums}
""",
        sizes=[7000],
        small=[1, 4, 6, 9, 12],
    ),
    dict(
        id="daily-temperatures",
        kind="asymptotic",
        why="scans forward from every day for a warmer one: O(n^2) on cooling stretches",
        naive="""
class Solution:
    def dailyTemperatures(self, temperatures: List[int]) -> List[int]:
        n = len(temperatures)
        answer = [0] * n
        for i in range(n):
            for j in range(i + 1, n):
                if temperatures[j] > temperatures[i]:
                    answer[i] = j - i
                    break
        return answer
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, 30 <= temperatures[i] <= 100; a season that cools down, with day-to-day noise
    rng = random.Random(seed)
    temps = [round(100 - 70 * i / n) + rng.randint(-3, 3) for i in range(n)]
    return (), {"temperatures": [min(100, max(30, t)) for t in temps]}
""",
        sizes=[8000],
        small=[1, 2, 5, 8, 15],
    ),
    dict(
        id="product-of-array-except-self",
        kind="memory",
        why="builds a copy of the array without each element (O(n^2) memory), then multiplies each",
        naive="""
class Solution:
    def productExceptSelf(self, nums: List[int]) -> List[int]:
        others = [nums[:i] + nums[i + 1 :] for i in range(len(nums))]
        answer = []
        for rest in others:
            product = 1
            for x in rest:
                product *= x
            answer.append(product)
        return answer
""",
        generate="""
import random


def generate(n, seed):
    # 2 <= n <= 10^5, |nums[i]| <= 30, every prefix/suffix product fits in 32 bits: mostly 1 and -1,
    # at most 20 entries of 2 or -2, and a zero for some seeds
    rng = random.Random(seed)
    nums = [rng.choice((1, -1)) for _ in range(n)]
    for i in rng.sample(range(n), min(n, 20)):
        nums[i] = rng.choice((2, -2))
    if seed % 3 == 0:
        nums[rng.randrange(n)] = 0
    return (), {"nums": nums}
""",
        sizes=[2000],
        small=[2, 3, 4, 6, 9],
    ),
    dict(
        id="subarray-sum-equals-k",
        kind="asymptotic",
        why="sums every subarray: O(n^2)",
        naive="""
class Solution:
    def subarraySum(self, nums: List[int], k: int) -> int:
        count = 0
        for i in range(len(nums)):
            total = 0
            for j in range(i, len(nums)):
                total += nums[j]
                if total == k:
                    count += 1
        return count
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 2 * 10^4, |nums[i]| <= 1000, |k| <= 10^7
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-20, 20) for _ in range(n)], "k": rng.randint(-30, 30)}
""",
        sizes=[3000],
        small=[3, 8, 15, 25, 40],
    ),
    dict(
        id="longest-consecutive-sequence",
        kind="asymptotic",
        why="list membership tests while walking each run: O(n^2)",
        naive="""
class Solution:
    def longestConsecutive(self, nums: List[int]) -> int:
        best = 0
        for x in nums:
            length = 1
            while x + length in nums:
                length += 1
            best = max(best, length)
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 0 <= n <= 10^5, |nums[i]| <= 10^9
    rng = random.Random(seed)
    base = rng.randint(-(10**8), 10**8)
    return (), {"nums": [base + rng.randrange(2 * n + 1) for _ in range(n)]}
""",
        sizes=[5000],
        small=[0, 1, 3, 8, 15],
    ),
    dict(
        id="longest-substring-without-repeating-characters",
        kind="asymptotic",
        why="builds a new slice and set for every candidate substring: O(n * L^2) for runs of length L",
        naive="""
class Solution:
    def lengthOfLongestSubstring(self, s: str) -> int:
        best = 0
        for i in range(len(s)):
            for j in range(i + 1, len(s) + 1):
                window = s[i:j]
                if len(set(window)) < len(window):
                    break
                best = max(best, len(window))
        return best
""",
        generate="""
import random
import string


def generate(n, seed):
    # 0 <= len(s) <= 5 * 10^4, English letters, digits, symbols and spaces
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " !?.,;:-"
    return (), {"s": "".join(rng.choice(alphabet) for _ in range(n))}
""",
        sizes=[20000],
        small=[0, 1, 3, 10, 30],
    ),
    dict(
        id="coin-change",
        kind="asymptotic",
        why="recursion without memoisation re-solves the same amounts: exponential",
        naive="""
class Solution:
    def coinChange(self, coins: List[int], amount: int) -> int:
        def fewest(rest):
            if rest == 0:
                return 0
            best = -1
            for coin in coins:
                if coin <= rest:
                    sub = fewest(rest - coin)
                    if sub >= 0 and (best < 0 or sub + 1 < best):
                        best = sub + 1
            return best

        return fewest(amount)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(coins) <= 12, 1 <= coins[i] <= 2^31 - 1, 0 <= amount <= 10^4
    rng = random.Random(seed)
    coins = rng.sample(range(3, 12), 3)
    return (), {"coins": coins, "amount": n}
""",
        sizes=[82],
        small=[0, 1, 3, 7, 13],
    ),
    dict(
        id="unique-paths",
        kind="asymptotic",
        why="recursion without memoisation walks every path: exponential",
        naive="""
class Solution:
    def uniquePaths(self, m: int, n: int) -> int:
        if m == 1 or n == 1:
            return 1
        return self.uniquePaths(m - 1, n) + self.uniquePaths(m, n - 1)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= m, n <= 100, answer <= 2 * 10^9
    rng = random.Random(seed)
    m = n + rng.randint(-1, 1)
    return (), {"m": max(1, m), "n": n}
""",
        sizes=[12],
        small=[1, 2, 3, 4, 6],
    ),
    dict(
        id="minimum-path-sum",
        kind="constant-factor",
        why="memoised recursion: the same O(m*n) cells as the table, each behind a call and a cache lookup",
        naive="""
class Solution:
    def minPathSum(self, grid: List[List[int]]) -> int:
        @lru_cache(maxsize=None)
        def best(i, j):
            if i == 0 and j == 0:
                return grid[0][0]
            if i == 0:
                return best(0, j - 1) + grid[0][j]
            if j == 0:
                return best(i - 1, 0) + grid[i][0]
            return min(best(i - 1, j), best(i, j - 1)) + grid[i][j]

        return best(len(grid) - 1, len(grid[0]) - 1)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= m, n <= 200, 0 <= grid[i][j] <= 200
    rng = random.Random(seed)
    return (), {"grid": [[rng.randint(0, 200) for _ in range(n)] for _ in range(n)]}
""",
        sizes=[180, 190, 200],
        small=[1, 2, 3, 4, 5],
    ),
    dict(
        id="longest-common-subsequence",
        kind="asymptotic",
        why="recursion without memoisation: exponential in the lengths",
        naive="""
class Solution:
    def longestCommonSubsequence(self, text1: str, text2: str) -> int:
        def lcs(i, j):
            if i == len(text1) or j == len(text2):
                return 0
            if text1[i] == text2[j]:
                return 1 + lcs(i + 1, j + 1)
            return max(lcs(i + 1, j), lcs(i, j + 1))

        return lcs(0, 0)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(text1), len(text2) <= 1000, lowercase letters
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return (), {
        "text1": "".join(rng.choice(letters) for _ in range(n)),
        "text2": "".join(rng.choice(letters) for _ in range(n)),
    }
""",
        sizes=[11],
        small=[2, 4, 6, 8, 9],
    ),
    dict(
        id="edit-distance",
        kind="constant-factor",
        why="memoised recursion with a dict keyed by (i, j): the same O(m*n) states as the table, each costlier",
        naive="""
class Solution:
    def minDistance(self, word1: str, word2: str) -> int:
        memo = {}

        def dist(i, j):
            if (i, j) in memo:
                return memo[(i, j)]
            if i == len(word1):
                result = len(word2) - j
            elif j == len(word2):
                result = len(word1) - i
            elif word1[i] == word2[j]:
                result = dist(i + 1, j + 1)
            else:
                result = 1 + min(dist(i + 1, j), dist(i, j + 1), dist(i + 1, j + 1))
            memo[(i, j)] = result
            return result

        return dist(0, 0)
""",
        generate="""
import random


def generate(n, seed):
    # 0 <= len(word1), len(word2) <= 500, lowercase letters
    rng = random.Random(seed)
    letters = "abcdefghij"
    return (), {
        "word1": "".join(rng.choice(letters) for _ in range(n)),
        "word2": "".join(rng.choice(letters) for _ in range(n - 1)),
    }
""",
        sizes=[300],
        small=[1, 2, 3, 4, 5],
    ),
    dict(
        id="trapping-rain-water",
        kind="asymptotic",
        why="takes the max of a fresh slice on both sides of every bar: O(n^2)",
        naive="""
class Solution:
    def trap(self, height: List[int]) -> int:
        total = 0
        for i in range(len(height)):
            left = max(height[: i + 1])
            right = max(height[i:])
            total += min(left, right) - height[i]
        return total
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 2 * 10^4, 0 <= height[i] <= 10^5
    rng = random.Random(seed)
    return (), {"height": [rng.randint(0, 10**5) for _ in range(n)]}
""",
        sizes=[5000],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="largest-rectangle-in-histogram",
        kind="asymptotic",
        why="tries every pair of bars: O(n^2)",
        naive="""
class Solution:
    def largestRectangleArea(self, heights: List[int]) -> int:
        best = 0
        for i in range(len(heights)):
            lowest = heights[i]
            for j in range(i, len(heights)):
                lowest = min(lowest, heights[j])
                best = max(best, lowest * (j - i + 1))
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, 0 <= heights[i] <= 10^4
    rng = random.Random(seed)
    return (), {"heights": [rng.randint(0, 10**4) for _ in range(n)]}
""",
        sizes=[1500],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="sliding-window-maximum",
        kind="asymptotic",
        why="slices and scans every window: O(n*k)",
        naive="""
class Solution:
    def maxSlidingWindow(self, nums: List[int], k: int) -> List[int]:
        return [max(nums[i : i + k]) for i in range(len(nums) - k + 1)]
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= k <= n <= 10^5, |nums[i]| <= 10^4
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(10**4), 10**4) for _ in range(n)], "k": max(1, n // 20)}
""",
        sizes=[20000],
        small=[1, 2, 5, 9, 20],
    ),
    dict(
        id="count-of-smaller-numbers-after-self",
        kind="asymptotic",
        why="compares every pair: O(n^2)",
        naive="""
class Solution:
    def countSmaller(self, nums: List[int]) -> List[int]:
        counts = []
        for i in range(len(nums)):
            smaller = 0
            for j in range(i + 1, len(nums)):
                if nums[j] < nums[i]:
                    smaller += 1
            counts.append(smaller)
        return counts
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, |nums[i]| <= 10^4
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(10**4), 10**4) for _ in range(n)]}
""",
        sizes=[2500],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="reverse-pairs",
        kind="asymptotic",
        why="checks every pair: O(n^2)",
        naive="""
class Solution:
    def reversePairs(self, nums: List[int]) -> int:
        count = 0
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                if nums[i] > 2 * nums[j]:
                    count += 1
        return count
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 5 * 10^4, -2^31 <= nums[i] <= 2^31 - 1
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(2**31), 2**31 - 1) for _ in range(n)]}
""",
        sizes=[2500],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="sliding-window-median",
        kind="memory",
        why="keeps a sorted copy of every window (O(n*k) memory) before taking the medians",
        naive="""
class Solution:
    def medianSlidingWindow(self, nums: List[int], k: int) -> List[float]:
        windows = [sorted(nums[i : i + k]) for i in range(len(nums) - k + 1)]
        if k % 2:
            return [w[k // 2] for w in windows]
        return [(w[k // 2 - 1] + w[k // 2]) / 2 for w in windows]
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= k <= n <= 10^5, -2^31 <= nums[i] <= 2^31 - 1
    rng = random.Random(seed)
    k = max(1, n // 40 + seed % 2)
    return (), {"nums": [rng.randint(-(2**31), 2**31 - 1) for _ in range(n)], "k": k}
""",
        sizes=[10000],
        small=[1, 2, 5, 9, 20],
    ),
    dict(
        id="first-missing-positive",
        kind="asymptotic",
        why="a list membership test for each candidate 1, 2, 3, ...: O(n^2)",
        naive="""
class Solution:
    def firstMissingPositive(self, nums: List[int]) -> int:
        candidate = 1
        while candidate in nums:
            candidate += 1
        return candidate
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, -2^31 <= nums[i] <= 2^31 - 1: 1..n with one value (late) replaced by noise
    rng = random.Random(seed)
    nums = list(range(1, n + 1))
    missing = rng.randrange(n // 2, n) if n > 1 else 0
    nums[missing] = rng.choice((-rng.randrange(2**31), n + 1 + rng.randrange(10**6), 0))
    rng.shuffle(nums)
    return (), {"nums": nums}
""",
        sizes=[9000],
        small=[1, 2, 3, 6, 10],
    ),
    dict(
        id="longest-valid-parentheses",
        kind="asymptotic",
        why="rescans from every start with a balance counter: O(n^2)",
        naive="""
class Solution:
    def longestValidParentheses(self, s: str) -> int:
        best = 0
        for i in range(len(s)):
            balance = 0
            for j in range(i, len(s)):
                balance += 1 if s[j] == "(" else -1
                if balance < 0:
                    break
                if balance == 0:
                    best = max(best, j - i + 1)
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 0 <= len(s) <= 3 * 10^4, s[i] is '(' or ')'
    rng = random.Random(seed)
    return (), {"s": "".join(rng.choice("()") for _ in range(n))}
""",
        sizes=[20000],
        small=[0, 1, 4, 9, 16],
    ),
    dict(
        id="minimum-window-substring",
        kind="asymptotic",
        why="regrows a window from every start and re-checks all needed letters per step: O(n^2)",
        naive="""
class Solution:
    def minWindow(self, s: str, t: str) -> str:
        need = Counter(t)
        best = ""
        for i in range(len(s)):
            window = Counter()
            for j in range(i, len(s)):
                window[s[j]] += 1
                if all(window[c] >= need[c] for c in need):
                    if not best or j - i + 1 < len(best):
                        best = s[i : j + 1]
                    break
        return best
""",
        generate='''
import random
import string
from collections import Counter


def _minimal_windows(s, t):
    """How many windows of s have the minimal length that covers t (0 if none)."""
    need, have, covered = Counter(t), Counter(), 0
    best, count, j = None, 0, 0
    for i, c in enumerate(s):
        have[c] += 1
        if have[c] <= need[c]:
            covered += 1
        while covered == len(t):
            length = i - j + 1
            if best is None or length < best:
                best, count = length, 1
            elif length == best:
                count += 1
            have[s[j]] -= 1
            if have[s[j]] < need[s[j]]:
                covered -= 1
            j += 1
    return count


def generate(n, seed):
    # 1 <= m, n <= 10^5, upper- and lowercase letters, the answer is unique (retried until it is)
    rng = random.Random(seed)
    while True:
        s = "".join(rng.choice(string.ascii_letters) for _ in range(n))
        t = "".join(rng.choice(s) for _ in range(min(n, 4)))
        if _minimal_windows(s, t) == 1:
            return (), {"s": s, "t": t}
''',
        sizes=[4000],
        small=[1, 2, 4, 8, 20],
    ),
    dict(
        id="decode-ways",
        kind="asymptotic",
        why="recursion without memoisation: exponential in the number of 1s and 2s",
        naive="""
class Solution:
    def numDecodings(self, s: str) -> int:
        def ways(i):
            if i == len(s):
                return 1
            if s[i] == "0":
                return 0
            total = ways(i + 1)
            if i + 1 < len(s) and int(s[i : i + 2]) <= 26:
                total += ways(i + 2)
            return total

        return ways(0)
""",
        generate="""
import random


def _decodings(s):
    a, b = 1, 0  # ways for s[:i], s[:i-1]
    for i, c in enumerate(s):
        a, b = (a if c != "0" else 0) + (b if i and s[i - 1] != "0" and int(s[i - 1 : i + 1]) <= 26 else 0), a
    return a


def generate(n, seed):
    # 1 <= len(s) <= 100, digits, may have leading zeros; the answer fits in 32 bits (redrawn until so)
    rng = random.Random(seed)
    while True:
        s = "".join(rng.choice("1111222223456789") for _ in range(n))
        if _decodings(s) < 2**31:
            return (), {"s": s}
""",
        sizes=[48],
        small=[1, 2, 3, 6, 10],
    ),
    dict(
        id="word-break",
        kind="asymptotic",
        why="backtracking without memoisation (and list lookups): exponential",
        naive="""
class Solution:
    def wordBreak(self, s: str, wordDict: List[str]) -> bool:
        def can_break(start):
            if start == len(s):
                return True
            for end in range(start + 1, len(s) + 1):
                if s[start:end] in wordDict and can_break(end):
                    return True
            return False

        return can_break(0)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 300, 1 <= len(wordDict) <= 1000, 1 <= len(word) <= 20, lowercase, words unique;
    # the last letter is a "b" that only odd seeds can match
    rng = random.Random(seed)
    words = ["a" * k for k in range(1, 6)] + ["b" + "a" * k for k in range(1, 4)]
    words += ["".join(rng.choice("cdefg") for _ in range(rng.randint(2, 6))) for _ in range(20)]
    if seed % 2:
        words.append("b")  # then s can be segmented (found quickly); even seeds: it cannot (the slow case)
    words = sorted(set(words))
    rng.shuffle(words)
    return (), {"s": "a" * n + "b", "wordDict": words}
""",
        sizes=[18],
        small=[1, 2, 3, 5, 8],
    ),
    dict(
        id="palindromic-substrings",
        kind="memory",
        why="lists every substring (O(n^3) characters in memory) before testing each one",
        naive="""
class Solution:
    def countSubstrings(self, s: str) -> int:
        substrings = [s[i:j] for i in range(len(s)) for j in range(i + 1, len(s) + 1)]
        return sum(1 for sub in substrings if sub == sub[::-1])
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 1000, lowercase letters
    rng = random.Random(seed)
    return (), {"s": "".join(rng.choice("abc") for _ in range(n))}
""",
        sizes=[700],
        small=[1, 2, 3, 7, 15],
    ),
    dict(
        id="longest-palindromic-subsequence",
        kind="constant-factor",
        why="memoised recursion: the same O(n^2) states as the table, with a call and a cache lookup each",
        naive="""
class Solution:
    def longestPalindromeSubseq(self, s: str) -> int:
        @cache
        def lps(i, j):
            if i > j:
                return 0
            if i == j:
                return 1
            if s[i] == s[j]:
                return 2 + lps(i + 1, j - 1)
            return max(lps(i + 1, j), lps(i, j - 1))

        return lps(0, len(s) - 1)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 1000, lowercase letters
    rng = random.Random(seed)
    return (), {"s": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))}
""",
        sizes=[450],
        small=[3, 10, 25, 50, 80],
    ),
    dict(
        id="container-with-most-water",
        kind="asymptotic",
        why="tries every pair of lines: O(n^2)",
        naive="""
class Solution:
    def maxArea(self, height: List[int]) -> int:
        best = 0
        for i in range(len(height)):
            for j in range(i + 1, len(height)):
                best = max(best, (j - i) * min(height[i], height[j]))
        return best
""",
        generate="""
import random


def generate(n, seed):
    # 2 <= n <= 10^5, 0 <= height[i] <= 10^4
    rng = random.Random(seed)
    return (), {"height": [rng.randint(0, 10**4) for _ in range(n)]}
""",
        sizes=[1500],
        small=[2, 3, 4, 7, 12],
    ),
    dict(
        id="kth-largest-element-in-an-array",
        kind="asymptotic",
        why="removes the maximum k-1 times from a copy: O(n*k)",
        naive="""
class Solution:
    def findKthLargest(self, nums: List[int], k: int) -> int:
        remaining = list(nums)
        for _ in range(k - 1):
            remaining.remove(max(remaining))
        return max(remaining)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= k <= n <= 10^5, |nums[i]| <= 10^4
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(-(10**4), 10**4) for _ in range(n)], "k": max(1, n // 2)}
""",
        sizes=[6500],
        small=[1, 2, 3, 6, 11],
    ),
    dict(
        id="next-greater-element-ii",
        kind="asymptotic",
        why="scans forward (circularly) from every element: O(n^2) on falling stretches",
        naive="""
class Solution:
    def nextGreaterElements(self, nums: List[int]) -> List[int]:
        n = len(nums)
        answer = [-1] * n
        for i in range(n):
            for step in range(1, n):
                j = (i + step) % n
                if nums[j] > nums[i]:
                    answer[i] = nums[j]
                    break
        return answer
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^4, |nums[i]| <= 10^9; a falling trend with noise
    rng = random.Random(seed)
    return (), {"nums": [-1000 * i + rng.randint(-(10**5), 10**5) for i in range(n)]}
""",
        sizes=[8000],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="jump-game",
        kind="asymptotic",
        why="marks every reachable index from every reachable index: O(n * max jump)",
        naive="""
class Solution:
    def canJump(self, nums: List[int]) -> bool:
        n = len(nums)
        reachable = [False] * n
        reachable[0] = True
        for i in range(n):
            if reachable[i]:
                for j in range(i + 1, min(n, i + nums[i] + 1)):
                    reachable[j] = True
        return reachable[-1]
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^4, 0 <= nums[i] <= 10^5; odd seeds put a wall of zeros no jump can cross late on
    rng = random.Random(seed)
    jump = min(1500, max(1, n // 5))
    nums = [rng.randint(0, jump) for _ in range(n)]
    if seed % 2 and n > 2 * jump + 4:
        start = rng.randrange(n // 2, n - jump - 2)
        for i in range(start - jump, start):
            nums[i] = min(nums[i], start + jump - i)  # nothing before the wall jumps past it
        for i in range(start, start + jump + 1):
            nums[i] = 0
    return (), {"nums": nums}
""",
        sizes=[10000],
        small=[1, 7, 12, 25, 40],
    ),
    dict(
        id="jump-game-ii",
        kind="asymptotic",
        why="relaxes every index reachable from every index: O(n * max jump)",
        naive="""
class Solution:
    def jump(self, nums: List[int]) -> int:
        n = len(nums)
        fewest = [n] * n
        fewest[0] = 0
        for i in range(n):
            for j in range(i + 1, min(n, i + nums[i] + 1)):
                fewest[j] = min(fewest[j], fewest[i] + 1)
        return fewest[-1]
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^4, 0 <= nums[i] <= 1000, the last index is reachable (every jump is at least 1)
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(1, min(400, max(1, n // 3))) for _ in range(n)]}
""",
        sizes=[5000],
        small=[1, 4, 10, 25, 60],
    ),
    dict(
        id="house-robber",
        kind="asymptotic",
        why="recursion without memoisation: exponential",
        naive="""
class Solution:
    def rob(self, nums: List[int]) -> int:
        def best(i):
            if i >= len(nums):
                return 0
            return max(best(i + 1), nums[i] + best(i + 2))

        return best(0)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 100, 0 <= nums[i] <= 400
    rng = random.Random(seed)
    return (), {"nums": [rng.randint(0, 400) for _ in range(n)]}
""",
        sizes=[27],
        small=[1, 2, 3, 6, 10],
    ),
    dict(
        id="count-primes",
        kind="asymptotic",
        why="trial division of every number instead of a sieve",
        naive="""
class Solution:
    def countPrimes(self, n: int) -> int:
        count = 0
        for x in range(2, n):
            d = 2
            while d * d <= x:
                if x % d == 0:
                    break
                d += 1
            else:
                count += 1
        return count
""",
        generate="""
import random


def generate(n, seed):
    # 0 <= n <= 5 * 10^6
    return (), {"n": n + random.Random(seed).randrange(100)}
""",
        sizes=[100000],
        small=[0, 2, 3, 20, 100],
    ),
    dict(
        id="valid-anagram",
        kind="asymptotic",
        why="removes each letter from a list of the other word's letters: O(n^2) (list.remove shifts)",
        naive="""
class Solution:
    def isAnagram(self, s: str, t: str) -> bool:
        letters = list(t)
        for c in s:
            if c not in letters:
                return False
            letters.remove(c)
        return not letters
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s), len(t) <= 5 * 10^4, lowercase letters; odd seeds change one letter of t
    rng = random.Random(seed)
    s = [rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)]
    t = s[:]
    rng.shuffle(t)
    if seed % 2:
        t[-1] = "z" if t[-1] != "z" else "y"
    return (), {"s": "".join(s), "t": "".join(t)}
""",
        sizes=[30000],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="ransom-note",
        kind="asymptotic",
        why="removes each used letter from a list of the magazine's letters: O(n*m)",
        naive="""
class Solution:
    def canConstruct(self, ransomNote: str, magazine: str) -> bool:
        letters = list(magazine)
        for c in ransomNote:
            if c in letters:
                letters.remove(c)
            else:
                return False
        return True
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(ransomNote), len(magazine) <= 10^5, lowercase letters
    rng = random.Random(seed)
    magazine = [rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)]
    note = rng.sample(magazine, n * 3 // 4)
    if seed % 2:
        note.append(rng.choice("abcdefghijklmnopqrstuvwxyz"))
    return (), {"ransomNote": "".join(note), "magazine": "".join(magazine)}
""",
        sizes=[30000],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="sum-of-subarray-minimums",
        kind="asymptotic",
        why="takes the minimum of every subarray: O(n^2)",
        naive="""
class Solution:
    def sumSubarrayMins(self, arr: List[int]) -> int:
        total = 0
        for i in range(len(arr)):
            lowest = arr[i]
            for j in range(i, len(arr)):
                if arr[j] < lowest:
                    lowest = arr[j]
                total += lowest
        return total % (10**9 + 7)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 3 * 10^4, 1 <= arr[i] <= 3 * 10^4
    rng = random.Random(seed)
    return (), {"arr": [rng.randint(1, 30000) for _ in range(n)]}
""",
        sizes=[2500],
        small=[1, 2, 3, 6, 12],
    ),
    dict(
        id="valid-parentheses",
        kind="asymptotic",
        why="deletes matched pairs by rebuilding the whole string, one nesting level per pass: O(n^2)",
        naive="""
class Solution:
    def isValid(self, s: str) -> bool:
        while "()" in s or "[]" in s or "{}" in s:
            s = s.replace("()", "").replace("[]", "").replace("{}", "")
        return s == ""
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 10^4, s of '()[]{}'; deeply nested, valid for even seeds, one bracket off otherwise
    rng = random.Random(seed)
    pairs = ["()", "[]", "{}"]
    opened, out = [], []
    for _ in range(n // 2):
        if opened and rng.random() < 0.1:
            out.append(opened.pop())
        else:
            o, c = rng.choice(pairs)
            out.append(o)
            opened.append(c)
    out.extend(reversed(opened))
    if seed % 2 and out:
        i = rng.randrange(len(out))
        out[i] = {"(": "[", ")": "]", "[": "{", "]": "}", "{": "(", "}": ")"}[out[i]]
    return (), {"s": "".join(out) or "()"}
""",
        sizes=[10000],
        small=[2, 4, 6, 10, 16],
    ),
    dict(
        id="maximum-number-of-vowels-in-a-substring-of-given-length",
        kind="memory",
        why="lists a copy of every window (O(n*k) memory), then counts each from scratch",
        naive="""
class Solution:
    def maxVowels(self, s: str, k: int) -> int:
        windows = [s[i : i + k] for i in range(len(s) - k + 1)]
        return max(sum(1 for c in window if c in "aeiou") for window in windows)
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(s) <= 10^5, lowercase letters, 1 <= k <= len(s)
    rng = random.Random(seed)
    s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))
    return (), {"s": s, "k": max(1, n // 50)}
""",
        sizes=[20000],
        small=[5, 20, 60, 120, 250],
    ),
    dict(
        id="find-the-index-of-the-first-occurrence-in-a-string",
        kind="constant-factor",
        why="compares character by character in Python where a slice comparison runs in C",
        naive="""
class Solution:
    def strStr(self, haystack: str, needle: str) -> int:
        for i in range(len(haystack) - len(needle) + 1):
            matched = True
            for j in range(len(needle)):
                if haystack[i + j] != needle[j]:
                    matched = False
                    break
            if matched:
                return i
        return -1
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= len(haystack), len(needle) <= 10^4, lowercase letters; long near-misses (runs of 'a')
    rng = random.Random(seed)
    m = max(1, min(n, 300))
    needle = "a" * (m - 1) + "b"
    haystack = ["a"] * n
    if seed % 2 == 0 and n >= m:
        at = rng.randrange(n * 3 // 4, n - m + 1) if n > 4 * m else n - m
        haystack[at + m - 1] = "b"
    return (), {"haystack": "".join(haystack), "needle": needle}
""",
        sizes=[10000],
        small=[1, 2, 5, 9, 20],
    ),
    dict(
        id="contains-duplicate-ii",
        kind="asymptotic",
        why="compares each element with the next k: O(n*k)",
        naive="""
class Solution:
    def containsNearbyDuplicate(self, nums: List[int], k: int) -> bool:
        for i in range(len(nums)):
            for j in range(i + 1, min(len(nums), i + k + 1)):
                if nums[i] == nums[j]:
                    return True
        return False
""",
        generate="""
import random


def generate(n, seed):
    # 1 <= n <= 10^5, |nums[i]| <= 10^9, 0 <= k <= 10^5; repeats exist, just out of reach, and for
    # odd seeds one within reach late in the array
    rng = random.Random(seed)
    k = max(0, min(200, n // 4))
    nums = [rng.randint(-(10**9), 10**9) for _ in range(n)]
    for i in range(k + 1, n, 7):
        nums[i] = nums[i - k - 1]
    if seed % 2 and n > 2:
        i = rng.randrange(n // 2, n)
        nums[i] = nums[i - max(1, min(k, i))]
    return (), {"nums": nums, "k": k}
""",
        sizes=[20000],
        small=[1, 2, 5, 9, 20],
    ),
]

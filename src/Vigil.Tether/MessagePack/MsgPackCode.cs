namespace Vigil.Tether.MessagePack;

/// <summary>First bytes of the formats in the MessagePack spec (github.com/msgpack/msgpack/blob/master/spec.md).</summary>
internal static class MsgPackCode
{
    public const byte MaxPositiveFixInt = 0x7f;
    public const byte FixMap = 0x80, FixArray = 0x90, FixStr = 0xa0;   // low 4, 4 and 5 bits hold the size
    public const byte Nil = 0xc0, NeverUsed = 0xc1, False = 0xc2, True = 0xc3;
    public const byte Bin8 = 0xc4, Bin16 = 0xc5, Bin32 = 0xc6;
    public const byte Ext8 = 0xc7, Ext16 = 0xc8, Ext32 = 0xc9;
    public const byte Float32 = 0xca, Float64 = 0xcb;
    public const byte U8 = 0xcc, U16 = 0xcd, U32 = 0xce, U64 = 0xcf;
    public const byte I8 = 0xd0, I16 = 0xd1, I32 = 0xd2, I64 = 0xd3;
    public const byte FixExt1 = 0xd4, FixExt2 = 0xd5, FixExt4 = 0xd6, FixExt8 = 0xd7, FixExt16 = 0xd8;
    public const byte Str8 = 0xd9, Str16 = 0xda, Str32 = 0xdb;
    public const byte Array16 = 0xdc, Array32 = 0xdd, Map16 = 0xde, Map32 = 0xdf;
    public const byte MinNegativeFixInt = 0xe0;                        // 0xe0…0xff are -32…-1
}
